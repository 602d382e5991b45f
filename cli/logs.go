package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// followInterval is how often `logs -f` looks for new output: files give
// no portable way to be told that they grew.
const followInterval = 200 * time.Millisecond

// cliLogs prints a task's output for a person: the log as the program
// wrote it (-f follows it), or with any of bg_output's cleaning flags
// the cleaned lines, or with --since, --wait-seconds or --view one read
// exactly as an agent's bg_output call makes it.
func cliLogs(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	follow := fs.Bool("f", false, "follow: keep printing new output, across rotations, until the task ends")
	clean := fs.Bool("clean", false, "clean as the agent reads: escape codes and spinners gone, paths shortened, repeats collapsed")
	digest := fs.Bool("digest", false, "the same as --view digest: the digest of the log for diagnosis (errors with their context, summaries, the end)")
	pf := declareParams(fs, toolbox.OutputTool(), "task_id")
	fs.Var(pf.vals["tail"], "n", "the same as --tail")
	// What differs from bg_output for a person: the whole log unless
	// --since; raw means the bytes as written.
	since := fs.Lookup("since")
	since.DefValue, since.Usage = "false", "Only lines that arrived since your previous read, as bg_output reads them (the first read returns the newest)."
	fs.Lookup("raw").Usage = "The bytes as the program wrote them, escape codes and all; with a cleaning flag, skip the cleaning (as bg_output's raw)."
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return ErrUsage
	}
	id, err := resolveRef(ctx, a, pos[0])
	if err != nil {
		return err
	}
	pf.set("task_id", id)
	rec, isRemote := remote.RecordsIn(a.Store.Dir).Get(id)
	if *digest {
		pf.set("view", "digest")
	}
	if pf.given("since") || pf.given("wait_seconds") || pf.given("view") {
		if *follow {
			return errors.New("-f follows the log; --since, --wait-seconds and --view read it once, as an agent does: use one or the other")
		}
		if !pf.given("since") {
			pf.set("since", false) // A person's read is of the whole log, and moves no cursor.
		}
		out, err := toolbox.Invoke[toolbox.OutputResult](ctx, a, pf.tool, pf.params())
		if err != nil {
			return err
		}
		printStreams(out.Stdout, out.Stderr, a.Stdout, a.Stderr)
		return nil
	}
	in, err := toolbox.BindParams[toolbox.OutputInput](pf.tool, pf.params())
	if err != nil {
		return err
	}
	if isRemote {
		return remoteLogs(ctx, a, rec, pf, *follow, *clean)
	}
	t, err := a.LoadTask(ctx, id)
	if err != nil {
		return err
	}
	l := &logPrinter{a: a, t: t, tail: -1}
	if pf.given("tail") {
		l.tail = int64(in.Tail)
	}
	if pf.cleaning(*clean) {
		opts := in.CleanOptions(t.Cwd)
		if in.MaxLines == nil {
			opts.MaxLines = cleanedLogLines
		}
		if _, err := capture.NewPipeline(opts); err != nil {
			return err
		}
		l.cleaned = &opts
		l.reader = toolbox.PrivateReader("cli")
		defer toolbox.RemoveCursors(t.Dir, l.reader)
	}
	for _, name := range []string{"stdout", "stderr"} {
		if in.Stream == "both" || in.Stream == name {
			w := a.Stdout
			if name == "stderr" {
				w = a.Stderr
			}
			st := &logStream{name: name, w: w, raw: w}
			if !in.Raw {
				st.raw, st.flush, st.close = logWriter(a, w)
			}
			l.streams = append(l.streams, st)
		}
	}
	defer l.close()
	for {
		if err := l.print(); err != nil {
			return err
		}
		if !*follow || l.t.Status != supervisor.StatusRunning {
			l.close() // The last lines before the end line.
			if *follow {
				fmt.Fprintf(a.Stderr, "[%s ended: %s]\n", toolbox.Printable(l.t.Label), endedAs(l.t.Status, l.t.ExitCode, paletteFor(a, a.Stderr)))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followInterval):
		}
		// Re-read the status after the copy: output written before the
		// task ended is then certain to be printed once more.
		if l.t, err = a.LoadTask(ctx, l.t.ID); err != nil {
			return err
		}
	}
}

// cleanedLogLines bounds one cleaned read of `bgtask logs`: a person
// scrolls, an agent would not.
const cleanedLogLines = 1 << 20

// logPrinter prints a task's streams for `bgtask logs`: raw bytes from
// where it left off, or, with cleaned set, the lines a private reader has
// not seen yet, cleaned as bg_output cleans them.
type logPrinter struct {
	a       *toolbox.App
	t       *supervisor.Task
	tail    int64 // last lines only, on the first print; -1 is all
	cleaned *capture.Options
	reader  string // the private reader of cleaned reads
	streams []*logStream
}

type logStream struct {
	name    string
	w       io.Writer    // where cleaned lines and notes go
	raw     io.Writer    // where raw bytes go (see App.logWriter)
	flush   func() error // writes what raw holds back, when following; nil for none
	close   func() error // writes the rest of it; nil for none
	pos     int64        // raw: the next byte to print
	started bool         // printed once already: -n applies no more
}

func (l *logPrinter) print() error {
	for _, s := range l.streams {
		if l.cleaned != nil {
			if err := l.printCleaned(s); err != nil {
				return err
			}
			continue
		}
		st, err := capture.OpenStream(l.t.Dir, s.name)
		if err != nil {
			return err
		}
		if !s.started && l.tail >= 0 {
			s.pos = st.TailStart(l.tail)
		}
		s.started = true
		next, skipped, err := st.CopyFrom(s.raw, s.pos)
		_ = st.Close() // Read only.
		if err == nil && s.flush != nil {
			err = s.flush()
		}
		if err != nil {
			return err
		}
		if skipped > 0 && l.tail < 0 {
			fmt.Fprintf(l.a.Stderr, "[... %d bytes rotated away unread ...]\n", skipped)
		}
		s.pos = next
	}
	return nil
}

// close writes what the streams' writers hold back, once.
func (l *logPrinter) close() {
	for _, s := range l.streams {
		if s.close != nil {
			_ = s.close() // A terminal gone: nowhere to say so.
			s.close = nil
		}
	}
}

// printCleaned prints the cleaned lines of s that the private reader has
// not seen: on the first call the newest (the last tail of them), then
// each new one once, across rotations.
func (l *logPrinter) printCleaned(s *logStream) error {
	o := capture.ReadOptions{Since: true, Reader: l.reader, Clean: *l.cleaned, WriterDone: l.t.Status != supervisor.StatusRunning}
	first := !s.started
	if first && l.tail > 0 {
		o.Tail = int(l.tail)
	}
	s.started = true
	r, err := capture.Read(l.t.Dir, s.name, o)
	if err != nil {
		return err
	}
	if first && l.tail == 0 {
		return nil // -n 0: only what comes next.
	}
	for _, line := range r.Lines {
		fmt.Fprintln(s.w, line)
	}
	return nil
}

// remoteLogs is `bgtask logs` of a task on another host: since-reads
// there through a private cursor (raw unless a cleaning flag is given),
// page after page, and with follow until the task ends; each wait for
// new output happens there.
func remoteLogs(ctx context.Context, a *toolbox.App, rec remote.Record, pf *paramFlags, follow, clean bool) error {
	params := pf.params()
	params["since"] = true
	if !pf.cleaning(clean) {
		params["raw"] = true
	}
	if !pf.given("max_lines") {
		params["max_lines"] = toolbox.MaxLinesLimit
	}
	ctx = toolbox.WithPrivateReader(ctx, toolbox.PrivateReader("cli"))
	for first := true; ; first = false {
		if !first {
			delete(params, "tail") // -n applies to the first read only.
			if follow {
				params["wait_seconds"] = 10.0
			}
		}
		out, err := toolbox.Invoke[toolbox.OutputResult](ctx, a, toolbox.OutputTool(), params)
		if err != nil {
			return err
		}
		printStreams(out.Stdout, out.Stderr, a.Stdout, a.Stderr)
		more := out.StdoutMeta != nil && out.StdoutMeta.Remaining > 0 || out.StderrMeta != nil && out.StderrMeta.Remaining > 0
		if more {
			continue
		}
		if !follow || out.Status != supervisor.StatusRunning {
			if follow {
				// The exit code is in the task's detail.
				var code *int
				if d, err := toolbox.Invoke[toolbox.TaskDetail](ctx, a, toolbox.StatusTool(), map[string]any{"task_id": rec.ID}); err == nil {
					code = d.ExitCode
				}
				fmt.Fprintf(a.Stderr, "[%s ended on %s: %s]\n", toolbox.Printable(rec.Label), rec.Host, endedAs(out.Status, code, paletteFor(a, a.Stderr)))
			}
			return nil
		}
	}
}
