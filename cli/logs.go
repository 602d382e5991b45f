package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// followInterval is how often `logs -f` looks for new output: files give
// no portable way to be told that they grew.
const followInterval = 200 * time.Millisecond

// logsOptions are bgtask logs' flags beyond bg_output's parameters.
type logsOptions struct {
	follow, clean, digest, allServices bool
	color                              string // auto, always or never
	pf                                 *paramFlags
}

// declareLogs declares bgtask logs' flags: bg_output's parameters, with
// the defaults a person wants (the whole log; raw is the bytes as
// written), and -f, -n, --clean, --digest, --color, --all. parsed copies
// their values into the options once fs is parsed.
func declareLogs(fs *flag.FlagSet) (o *logsOptions, parsed func()) {
	follow := fs.Bool("f", false, "follow: keep printing new output, across rotations, until the task ends")
	clean := fs.Bool("clean", false, "clean as the agent reads: escape codes and spinners gone, paths shortened, repeats collapsed")
	digest := fs.Bool("digest", false, "the same as --view digest: the digest of the log for diagnosis (errors with their context, summaries, the end)")
	color := fs.String("color", "auto", "colour the output: auto (on a terminal only), always, never")
	pf := declareParams(fs, toolbox.OutputTool(), "task_id")
	fs.Var(pf.vals["tail"], "n", "the same as --tail")
	since := fs.Lookup("since")
	since.DefValue, since.Usage = "false", "Only the lines that arrived since the previous --since read (the first one prints the newest). The place is shared with agents that set no AMP_THREAD_ID."
	fs.Lookup("raw").Usage = "The bytes as the program wrote them, escape codes and all; with a cleaning flag, the lines uncleaned."
	allServices := fs.Bool("all", false, "every service of the project (its Procfile or process-compose.yaml) that runs, together")
	o = &logsOptions{pf: pf}
	return o, func() {
		o.follow, o.clean, o.digest, o.allServices, o.color = *follow, *clean, *digest, *allServices, *color
	}
}

// cliLogs prints a task's output for a person, in one of four ways: the
// log as the program wrote it, or cleaned as bg_output cleans it (-f
// follows either, across rotations); one read exactly as an agent's
// bg_output call makes it (--since, --wait-seconds, --view); a task on
// another host (remoteLogs); several tasks together (multiLogs).
func cliLogs(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	o, parsed := declareLogs(fs)
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	parsed()
	pf := o.pf
	if o.allServices || len(pos) > 1 {
		if o.allServices && len(pos) > 0 {
			return ErrUsage
		}
		return multiLogs(ctx, a, pos, o.allServices, o.follow, pf)
	}
	if len(pos) != 1 {
		return ErrUsage
	}
	switch o.color {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("--color is auto, always or never, not %q", o.color)
	}
	id, err := resolveRef(ctx, a, pos[0])
	if err != nil {
		return err
	}
	pf.set("task_id", id)
	if o.digest {
		pf.set("view", "digest")
	}
	if pf.given("since") || pf.given("wait_seconds") || pf.given("view") {
		if o.follow {
			return errors.New("-f follows the log; --since, --wait-seconds and --view read it once, as an agent does: use one or the other")
		}
		return readAsAgent(ctx, a, pf)
	}
	in, err := toolbox.BindParams[toolbox.OutputInput](pf.tool, pf.params())
	if err != nil {
		return err
	}
	if rec, ok := remote.RecordsIn(a.Store.Dir).Get(id); ok {
		if !o.follow && !pf.cleaning(o.clean) {
			return remoteWholeLog(ctx, a, rec, in, o)
		}
		return remoteLogs(ctx, a, rec, pf, o.follow, o.clean)
	}
	l, err := newLogPrinter(ctx, a, id, in, o)
	if err != nil {
		return err
	}
	defer l.close()
	return l.run(ctx)
}

// readAsAgent is one bg_output read, printed: of the whole log unless
// --since, so that a person's look moves no cursor.
func readAsAgent(ctx context.Context, a *toolbox.App, pf *paramFlags) error {
	if !pf.given("since") {
		pf.set("since", false)
	}
	out, err := toolbox.Invoke[toolbox.OutputResult](ctx, a, pf.tool, pf.params())
	if err != nil {
		return err
	}
	printStreams(out.Stdout, out.Stderr, a.Stdout, a.Stderr)
	return nil
}

// newLogPrinter sets up the printing of task id's streams as in and o
// ask: raw (rendered for a terminal, coloured as --color says), or
// cleaned through a private reader (whose cursors close removes).
func newLogPrinter(ctx context.Context, a *toolbox.App, id string, in toolbox.OutputInput, o *logsOptions) (*logPrinter, error) {
	t, err := a.LoadTask(ctx, id)
	if err != nil {
		return nil, err
	}
	l := &logPrinter{a: a, t: t, tail: -1, follow: o.follow}
	if o.pf.given("tail") {
		l.tail = int64(in.Tail)
	}
	if o.pf.cleaning(o.clean) {
		opts := in.CleanOptions(t.Cwd)
		if in.MaxLines == nil {
			opts.MaxLines = cleanedLogLines
		}
		if _, err := capture.NewPipeline(opts); err != nil {
			return nil, err
		}
		l.cleaned = &opts
		l.reader = toolbox.PrivateReader("cli")
	}
	for _, name := range []string{"stdout", "stderr"} {
		if in.Stream == "both" || in.Stream == name {
			w := a.Stdout
			if name == "stderr" {
				w = a.Stderr
			}
			st := &logStream{name: name, w: w, raw: w}
			if !in.Raw {
				pal := paletteFor(a, w)
				if o.color != "auto" {
					pal = palette{on: o.color == "always"}
				}
				st.target = &switchWriter{w: w}
				st.raw, st.flush, st.close = logWriter(pal, st.target)
			}
			l.streams = append(l.streams, st)
		}
	}
	return l, nil
}

// run prints what the streams hold and, following, what comes, until
// the task ends; then the end line.
func (l *logPrinter) run(ctx context.Context) error {
	for {
		if err := l.print(); err != nil {
			return err
		}
		if !l.follow || l.t.Status != supervisor.StatusRunning {
			l.close() // The last lines before the end line.
			if l.follow {
				fmt.Fprintf(l.a.Stderr, "[%s ended: %s]\n", toolbox.Printable(l.t.Label), endedAs(l.t.Status, l.t.ExitCode, paletteFor(l.a, l.a.Stderr)))
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
		var err error
		if l.t, err = l.a.LoadTask(ctx, l.t.ID); err != nil {
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
	follow  bool  // -f: the task's output goes on after the first print
	cleaned *capture.Options
	reader  string // the private reader of cleaned reads
	streams []*logStream
}

type logStream struct {
	name    string
	w       io.Writer     // where cleaned lines and notes go
	raw     io.Writer     // where raw bytes go (see App.logWriter)
	flush   func() error  // writes what raw holds back, when following; nil for none
	close   func() error  // writes the rest of it; nil for none
	target  *switchWriter // where raw's rendered lines go; nil for --raw
	pos     int64         // raw: the next byte to print
	started bool          // printed once already: -n applies no more
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
		if !s.started && l.tail >= 0 && s.target != nil {
			// -n N counts the lines as rendered, not as written: a
			// clear-screen is a screenful of newlines in the log.
			err := l.printRenderedTail(s, st)
			_ = st.Close() // Read only.
			if err != nil {
				return err
			}
			continue
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

// renderedTailWindow is how many lines before the last -n ones are
// rendered to find the last -n rendered lines: enough for a few
// clear-screens (a screenful of newlines each) among them.
const renderedTailWindow = 1000

// printRenderedTail is the first print of s with -n: the stream's last
// lines rendered, of which the last l.tail are printed.
func (l *logPrinter) printRenderedTail(s *logStream, st *capture.Stream) error {
	var buf bytes.Buffer
	s.target.w = &buf
	s.pos = st.TailStart(l.tail + renderedTailWindow)
	s.started = true
	next, _, err := st.CopyFrom(s.raw, s.pos)
	if err != nil {
		return err
	}
	s.pos = next
	final := !l.follow || l.t.Status != supervisor.StatusRunning
	if final {
		err = s.close()
		s.close = nil
	} else {
		err = s.flush()
	}
	s.target.w = s.w
	if err != nil {
		return err
	}
	// Whole lines, then what follows the last newline (Close's colour
	// reset), which is kept.
	b := buf.Bytes()
	rest := b[bytes.LastIndexByte(b, '\n')+1:]
	lines := bytes.SplitAfter(b[:len(b)-len(rest)], []byte{'\n'})
	lines = lines[:len(lines)-1] // SplitAfter's empty last element.
	var out []byte
	for _, line := range lines[max(0, len(lines)-int(l.tail)):] {
		out = append(out, line...)
	}
	out = append(out, rest...)
	_, err = s.w.Write(out)
	return err
}

// close writes what the streams' writers hold back, once, and removes
// the private reader's cursors.
func (l *logPrinter) close() {
	if l.reader != "" {
		toolbox.RemoveCursors(l.t.Dir, l.reader)
	}
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

// remoteWholeLog is `bgtask logs` of a task on another host, printed as
// it is there: the whole log, however long, as `bgtask logs` prints it
// there, streamed (a tool's answer is bounded), coloured as here.
func remoteWholeLog(ctx context.Context, a *toolbox.App, rec remote.Record, in toolbox.OutputInput, o *logsOptions) error {
	colour := o.color
	if colour == "auto" {
		// Its stdout there is a pipe: the terminal is here.
		colour = "never"
		if paletteFor(a, a.Stdout).on {
			colour = "always"
		}
	}
	args := []string{"--color", colour, "--stream", in.Stream}
	if in.Raw {
		args = append(args, "--raw")
	}
	if o.pf.given("tail") {
		args = append(args, "-n", strconv.Itoa(in.Tail))
	}
	return a.RemoteLog(ctx, rec.Host, rec.ID, a.Stdout, a.Stderr, args...)
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

// serviceColours are the prefixes' colours, one per task in turn, as
// foreman and pm2 give them.
var serviceColours = [...]string{"\x1b[36m", "\x1b[35m", "\x1b[34m", "\x1b[33m", "\x1b[32m", "\x1b[31m"}

// multiLogs prints several tasks' output together, each line after its
// label and a bar (`api | ...`), one colour per task: the tasks named
// (ids or labels), or with all every running service of the project.
// With follow it goes on until every one has ended.
func multiLogs(ctx context.Context, a *toolbox.App, refs []string, all, follow bool, pf *paramFlags) error {
	var tasks []*supervisor.Task
	if all {
		ts, err := serviceTasks(ctx, a, nil)
		if err != nil {
			return err
		}
		tasks = ts
	}
	for _, ref := range refs {
		id, err := resolveRef(ctx, a, ref)
		if err != nil {
			return err
		}
		t, err := a.LoadTask(ctx, id)
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return errors.New("no task to show")
	}
	pf.set("task_id", tasks[0].ID) // Required by bg_output; each task is read below.
	in, err := toolbox.BindParams[toolbox.OutputInput](pf.tool, pf.params())
	if err != nil {
		return err
	}
	width := 0
	for _, t := range tasks {
		width = max(width, len(toolbox.Printable(t.Label)))
	}
	pal := paletteFor(a, a.Stdout)
	var printers []*logPrinter
	var prefixed []*prefixWriter
	for i, t := range tasks {
		l := &logPrinter{a: a, t: t, tail: -1, follow: follow}
		if pf.given("tail") {
			l.tail = int64(in.Tail)
		}
		pw := &prefixWriter{w: a.Stdout, prefix: pal.paint(serviceColours[i%len(serviceColours)], fmt.Sprintf("%-*s |", width, toolbox.Printable(t.Label))) + " "}
		prefixed = append(prefixed, pw)
		for _, name := range []string{"stdout", "stderr"} {
			if in.Stream == "both" || in.Stream == name {
				st := &logStream{name: name, w: pw, raw: pw}
				if !in.Raw {
					st.target = &switchWriter{w: pw}
					st.raw, st.flush, st.close = logWriter(pal, st.target)
				}
				l.streams = append(l.streams, st)
			}
		}
		printers = append(printers, l)
	}
	defer func() {
		for i, l := range printers {
			l.close()
			prefixed[i].flush()
		}
	}()
	justEnded := map[*logPrinter]bool{} // ended since the last copy: its end line is due
	for _, l := range printers {
		justEnded[l] = follow && l.t.Status != supervisor.StatusRunning // Ended already: said once too.
	}
	for {
		running := 0
		for i, l := range printers {
			if err := l.print(); err != nil {
				return err
			}
			if l.t.Status == supervisor.StatusRunning {
				running++
			}
			if justEnded[l] {
				// After its last lines, as one task followed alone says it.
				prefixed[i].flush()
				fmt.Fprintf(a.Stderr, "[%s ended: %s]\n", toolbox.Printable(l.t.Label), endedAs(l.t.Status, l.t.ExitCode, paletteFor(a, a.Stderr)))
				delete(justEnded, l)
			}
		}
		if !follow || running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followInterval):
		}
		// Re-read the status after the copy: output written before a
		// task ended is then certain to be printed once more.
		for _, l := range printers {
			if l.t.Status == supervisor.StatusRunning {
				if l.t, err = a.LoadTask(ctx, l.t.ID); err != nil {
					return err
				}
				justEnded[l] = l.t.Status != supervisor.StatusRunning
			}
		}
	}
}

// prefixWriter writes each whole line after prefix; a partial line waits
// for its end (or flush).
type prefixWriter struct {
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			break
		}
		line := append(append([]byte(p.prefix), p.partial...), b[:i+1]...)
		p.partial = p.partial[:0]
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}

// flush writes a partial line left, ended.
func (p *prefixWriter) flush() {
	if len(p.partial) > 0 {
		_, _ = fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.partial) // Nowhere to report it.
		p.partial = p.partial[:0]
	}
}
