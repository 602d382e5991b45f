package toolbox

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// invoke runs handler f of tool t with params, decoded, checked and
// defaulted as an agent's call is: the CLI behaves exactly as the agent
// tools do, and gets the handler's typed answer.
func invoke[In, Out any](ctx context.Context, a *App, t *Tool, params map[string]any, f func(context.Context, *App, In) (Out, error)) (Out, error) {
	var in In
	var zero Out
	raw, err := json.Marshal(params)
	if err != nil {
		return zero, err
	}
	decoded, err := t.Decode(raw)
	if err != nil {
		return zero, err
	}
	if err := decoded.Bind(&in); err != nil {
		return zero, err
	}
	return f(ctx, a, in)
}

func cliRun(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	label := fs.String("label", "", "short name for the task")
	cwd := fs.String("cwd", "", "working directory (default: here)")
	timeout := fs.Float64("timeout", DefaultTimeoutMinutes, "minutes before auto-kill; 0 disables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errUsage
	}
	r, err := invoke(ctx, a, bgRun(), map[string]any{
		"command": shellJoin(fs.Args()), "label": *label, "cwd": *cwd, "timeout": *timeout,
	}, runBgRun)
	if err != nil {
		return err
	}
	// For a person: what runs, and what to type next (not the agent's
	// tool syntax the message carries).
	ref := r.TaskID
	if r.Label != r.TaskID {
		ref = r.Label
	}
	kill := "no auto-kill"
	if r.TimeoutMinutes > 0 {
		kill = "auto-kill in " + formatMinutes(r.TimeoutMinutes)
	}
	fmt.Fprintf(a.Stdout, "%s\nStarted %s (pid %d, %s). Follow it: bgtask logs %s -f   Stop it: bgtask stop %s\n", r.TaskID, ref, r.PID, kill, ref, ref)
	return nil
}

// shellJoin turns argv back into one bash command line. A single argument
// is taken as a command line already (bgtask run -- 'npm run dev | tee x').
func shellJoin(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, s := range args {
		if s != "" && strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			quoted[i] = s
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

func cliList(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print bg_status's JSON answer, for scripts")
	all := fs.Bool("all", false, "every task, not only the running ones and the 10 newest finished")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	l, err := invoke(ctx, a, bgStatus(), map[string]any{"all": *all}, listTasks)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.Stdout, l)
	}
	pal := a.palette(a.Stdout)
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TASK\tLABEL\t%s\tAGE\tAUTO-KILL\tCOMMAND\n", pal.paint(sgrDefault, "STATUS"))
	for _, t := range l.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.TaskID, t.Label, pal.status(t.Status), t.Age, t.AutoKill, t.Command)
	}
	_ = tw.Flush() // Stdout errors have nowhere to go.
	fmt.Fprintf(a.Stdout, "%d task(s), %d running", l.Summary.Total, l.Summary.Running)
	if l.Summary.Hidden > 0 {
		fmt.Fprintf(a.Stdout, ", %d older finished not shown (--all)", l.Summary.Hidden)
	}
	fmt.Fprintln(a.Stdout)
	return nil
}

// printJSON prints v indented, without HTML escaping: `>&2` stays `>&2`.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// oneTask parses a command line naming one task, by id or label, and
// returns its id.
func (a *App) oneTask(ctx context.Context, fs *flag.FlagSet, args []string) (string, error) {
	ref, err := oneID(fs, args)
	if err != nil {
		return "", err
	}
	return a.resolveRef(ctx, ref)
}

func oneID(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", errUsage
	}
	return fs.Arg(0), nil
}

func cliStatus(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print bg_status's JSON answer, for scripts")
	// Accept the id before or after the flags.
	if len(args) > 1 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0])
	}
	id, err := a.oneTask(ctx, fs, args)
	if err != nil {
		return err
	}
	d, err := invoke(ctx, a, bgStatus(), map[string]any{"task_id": id}, taskDetail)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.Stdout, d)
	}
	// For people: aligned fields, the ones that say something.
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("task", d.TaskID)
	row("label", d.Label)
	status := d.Status
	if d.ExitCode != nil {
		status += fmt.Sprintf(" (exit %d)", *d.ExitCode)
	}
	row("status", a.palette(a.Stdout).status(d.Status)+strings.TrimPrefix(status, d.Status))
	row("command", d.Command)
	row("cwd", d.Cwd)
	row("started", d.StartedAt+" ("+d.Age+" ago)")
	row("finished", d.FinishedAt)
	row("auto-kill", d.AutoKill)
	if d.Processes > 0 {
		row("processes", fmt.Sprintf("%d, %s, %.1f%% CPU, quiet for %s", d.Processes, d.RSS, d.CPUPercent, d.QuietFor))
	}
	row("listening", strings.Join(d.Listening, ", "))
	row("output", fmt.Sprintf("%d lines on stdout, %d on stderr (bgtask logs %s)", d.StdoutLines, d.StderrLines, d.Label))
	row("capture error", d.CaptureError)
	row("logs", d.LogDir)
	return tw.Flush()
}

func cliStop(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	id, err := a.oneTask(ctx, fs, args)
	if err != nil {
		return err
	}
	// A stop can take the whole grace period: say so before it starts.
	if t, err := a.loadTask(ctx, id); err == nil && t.Status == supervisor.StatusRunning {
		grace := graceFromEnv(a.Getenv)
		if grace == 0 {
			grace = procs.DefaultGrace
		}
		fmt.Fprintf(a.Stderr, "Stopping %s: SIGTERM to its processes, SIGKILL to those still running after %s...\n", t.Label, formatDuration(grace))
	}
	r, err := invoke(ctx, a, bgStop(), map[string]any{"task_id": id}, stopTask)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.Message)
	return nil
}

// followInterval is how often `logs -f` looks for new output: files give
// no portable way to be told that they grew.
const followInterval = 200 * time.Millisecond

func cliLogs(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	follow := fs.Bool("f", false, "follow: keep printing new output, across rotations, until the task ends")
	stream := fs.String("stream", "both", "stdout, stderr, or both (stderr goes to stderr)")
	var tail int64 = -1
	fs.Int64Var(&tail, "n", -1, "only the last `N` lines of each stream (default: all that is kept)")
	fs.Int64Var(&tail, "tail", -1, "the same as -n")
	filter := fs.String("filter", "", "case-insensitive `regex`: only matching lines, cleaned (as bg_output's filter)")
	exclude := fs.String("exclude", "", "case-insensitive `regex`: drop matching lines, cleaned (as bg_output's exclude)")
	clean := fs.Bool("clean", false, "clean as the agent reads: escape codes and spinners gone, paths shortened, repeats collapsed")
	digest := fs.Bool("digest", false, "print the digest of the log for diagnosis (errors with their context, summaries, the end) instead of the log")
	var rest []string
	// Accept the id before or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		rest, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest = append(rest, fs.Args()...)
	if len(rest) != 1 || (*stream != "stdout" && *stream != "stderr" && *stream != "both") {
		return errUsage
	}
	id, err := a.resolveRef(ctx, rest[0])
	if err != nil {
		return err
	}
	t, err := a.loadTask(ctx, id)
	if err != nil {
		return err
	}
	if *digest {
		out, err := invoke(ctx, a, bgOutput(), map[string]any{"task_id": t.ID, "stream": *stream, "view": "digest", "since": false}, runBgOutput)
		if err != nil {
			return err
		}
		for _, text := range []*string{out.Stdout, out.Stderr} {
			if text != nil && *text != "" {
				fmt.Fprintln(a.Stdout, *text)
			}
		}
		return nil
	}
	l := &logPrinter{a: a, t: t, tail: tail}
	if *clean || *filter != "" || *exclude != "" {
		opts := capture.Options{Filter: *filter, Exclude: *exclude, Cwd: t.Cwd, MaxLines: cleanedLogLines}
		if _, err := capture.NewPipeline(opts); err != nil {
			return err
		}
		l.cleaned = &opts
		l.reader = "cli-" + randomHex()
		defer removeCursors(t.Dir, l.reader)
	}
	for _, name := range []string{"stdout", "stderr"} {
		if *stream == "both" || *stream == name {
			w := a.Stdout
			if name == "stderr" {
				w = a.Stderr
			}
			l.streams = append(l.streams, &logStream{name: name, w: w, raw: a.palette(w).stripper(w)})
		}
	}
	for {
		if err := l.print(); err != nil {
			return err
		}
		if !*follow || l.t.Status != supervisor.StatusRunning {
			if *follow {
				what := l.t.Status
				if l.t.ExitCode != nil {
					what = fmt.Sprintf("%s, exit %d", l.t.Status, *l.t.ExitCode)
				}
				pal := a.palette(a.Stderr)
				fmt.Fprintf(a.Stderr, "[%s ended: %s]\n", l.t.Label, pal.status(what))
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
		if l.t, err = a.loadTask(ctx, l.t.ID); err != nil {
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
	a       *App
	t       *supervisor.Task
	tail    int64 // last lines only, on the first print; -1 is all
	cleaned *capture.Options
	reader  string // the private reader of cleaned reads
	streams []*logStream
}

type logStream struct {
	name    string
	w       io.Writer // where cleaned lines and notes go
	raw     io.Writer // where raw bytes go: w, escape codes removed when not a terminal
	pos     int64     // raw: the next byte to print
	started bool      // printed once already: -n applies no more
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

// printCleaned prints the cleaned lines of s that the private reader has
// not seen: on the first call the newest (the last tail of them), then
// each new one once, across rotations.
func (l *logPrinter) printCleaned(s *logStream) error {
	o := capture.ReadOptions{Since: true, Reader: l.reader, Clean: *l.cleaned}
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

// resolveRef turns what a person typed into a task id: an id, or a
// label (the running task of that label, else its newest task).
func (a *App) resolveRef(ctx context.Context, ref string) (string, error) {
	if supervisor.ValidID(ref) == nil {
		return ref, nil
	}
	tasks, err := a.Store.List()
	if err != nil {
		return "", err
	}
	var running, all []*supervisor.Task
	for _, t := range tasks {
		if t.Label != ref {
			continue
		}
		all = append(all, t)
		if t.Status == supervisor.StatusRunning {
			running = append(running, t)
		}
	}
	switch {
	case len(running) == 1:
		return running[0].ID, nil
	case len(running) > 1:
		var ids []string
		for _, t := range running {
			ids = append(ids, t.ID+" (in "+t.Cwd+")")
		}
		return "", fmt.Errorf("label %q is ambiguous: %d tasks of that label run: %s; give an id", ref, len(running), strings.Join(ids, ", "))
	case len(all) > 0:
		return all[len(all)-1].ID, nil // List is oldest first.
	}
	return "", fmt.Errorf("no task has the id or label %q (bgtask ls lists them)", ref)
}

// cliRestart stops a task and starts its command again, same label and
// folder (bg_run replace=true).
func cliRestart(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	id, err := a.oneTask(ctx, fs, args)
	if err != nil {
		return err
	}
	t, err := a.loadTask(ctx, id)
	if err != nil {
		return err
	}
	if t.Command == "" {
		return fmt.Errorf("%s records no command to run again", t.ID)
	}
	r, err := invoke(ctx, a, bgRun(), map[string]any{"command": t.Command, "label": t.Label, "cwd": t.Cwd,
		"timeout": t.TimeoutMinutes, "replace": true, "interactive": t.Interactive}, runBgRun)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Restarted %s as %s (pid %d). Follow it with: bgtask logs %s -f\n", r.Label, r.TaskID, r.PID, r.Label)
	return nil
}

// cliRm removes finished tasks' records and logs.
func cliRm(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errUsage
	}
	for _, ref := range fs.Args() {
		id, err := a.resolveRef(ctx, ref)
		if err != nil {
			return err
		}
		r, err := invoke(ctx, a, bgStop(), map[string]any{"task_id": id, "action": "cleanup"}, cleanupTasks)
		if err != nil {
			return err
		}
		if r.Cleaned == 0 {
			return fmt.Errorf("%s is still running: stop it first (bgtask stop %s)", id, ref)
		}
		fmt.Fprintf(a.Stdout, "Removed %s\n", id)
	}
	return nil
}

func cliSend(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	key := fs.String("key", "", "a key to press after the text: enter, ctrl-c, ctrl-d, esc, tab, up, down")
	noEnter := fs.Bool("no-enter", false, "do not press Enter after the text")
	var first []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		first, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := append(first, fs.Args()...)
	if len(rest) < 1 {
		return errUsage
	}
	id, err := a.resolveRef(ctx, rest[0])
	if err != nil {
		return err
	}
	params := map[string]any{"task_id": id, "enter": !*noEnter}
	if len(rest) > 1 {
		params["text"] = strings.Join(rest[1:], " ")
	}
	if *key != "" {
		params["key"] = *key
	}
	r, err := invoke(ctx, a, bgSend(), params, runBgSend)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.Message)
	return nil
}

// Version is the version stamped into a release build, with its commit;
// else the module version bgtask was built from (go install ...@v1.2.3,
// with the commit of a pseudo-version), or the VCS revision of a build
// from a checkout.
func Version() string {
	if v := stampedVersion(); v != "" {
		return v
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		if rev := pseudoCommit(v); rev != "" {
			return v + " (commit " + rev + ")"
		}
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev[:min(12, len(rev))] + dirty
}
