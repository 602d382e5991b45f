package toolbox

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// invoke calls tool t with params, decoded, checked, defaulted and
// routed as an agent's call is (see App.Call): the CLI behaves exactly as
// the agent tools do, and gets the typed answer.
func invoke[Out any](ctx context.Context, a *App, t *Tool, params map[string]any) (Out, error) {
	var zero Out
	raw, err := json.Marshal(params)
	if err != nil {
		return zero, err
	}
	res, err := a.Call(ctx, t, raw)
	if err != nil {
		return zero, err
	}
	out, ok := res.(Out)
	if !ok {
		return zero, fmt.Errorf("%s answered a %T, not a %T", t.Name, res, zero)
	}
	return out, nil
}

// bindParams decodes params as t's input: checked, defaults applied.
func bindParams[In any](t *Tool, params map[string]any) (In, error) {
	var in In
	raw, err := json.Marshal(params)
	if err != nil {
		return in, err
	}
	decoded, err := t.Decode(raw)
	if err != nil {
		return in, err
	}
	return in, decoded.Bind(&in)
}

// cliRun starts a task: every bg_run parameter is a flag, the command
// comes after them (its own flags are its own: bgtask run -- ls -la).
// The task id alone goes to stdout (id=$(bgtask run ...)), the rest to
// stderr.
func cliRun(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	pf := declareParams(fs, bgRun(), "command")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errUsage
	}
	pf.set("command", shellJoin(fs.Args()))
	r, err := invoke[RunResult](ctx, a, pf.tool, pf.params())
	var taken *labelTakenError
	if errors.As(err, &taken) {
		label, _ := pf.params()["label"].(string)
		return fmt.Errorf("%s: follow it with bgtask logs %s -f, or add --replace to stop it and start this one", taken.what, label)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.TaskID)
	// For a person: what runs, and what to type next (not the agent's
	// tool syntax the message carries).
	ref := r.TaskID
	if r.Label != r.TaskID {
		ref = r.Label
	}
	kill := "no auto-kill"
	if r.TimeoutMinutes > 0 {
		kill = "auto-kill in " + formatTimeout(r.TimeoutMinutes)
	}
	where := ""
	if r.Host != "" {
		where = " on " + r.Host
	}
	fmt.Fprintf(a.Stderr, "Started %s%s (pid %d, %s). Follow it: bgtask logs %s -f   Stop it: bgtask stop %s\n", ref, where, r.PID, kill, ref, ref)
	return a.printWait(r, ref)
}

// printWait tells a person how a run's wait ended; a wait that did not
// end ready (or, without a condition, a task that did not succeed) is an
// error, so that `bgtask run --wait-port 3000 ... && curl` holds.
func (a *App) printWait(r RunResult, ref string) error {
	printStreams(r.Stdout, r.Stderr, a.Stderr, a.Stderr)
	switch {
	case r.WaitResult != nil && r.Ready:
		what := "ready"
		switch {
		case r.Matched != "":
			what += ": " + r.Matched
		case r.Port != 0:
			what += fmt.Sprintf(": listening on port %d", r.Port)
		case r.HTTPStatus != 0:
			what += fmt.Sprintf(": HTTP %d", r.HTTPStatus)
		}
		fmt.Fprintf(a.Stderr, "%s is %s\n", ref, what)
	case r.WaitResult != nil && r.TimedOut:
		return fmt.Errorf("%s is still running after the wait, not ready (bgtask logs %s -f)", ref, ref)
	case r.WaitResult != nil:
		return fmt.Errorf("%s ended (%s) before it was ready", ref, endedAs(r.Status, r.ExitCode, palette{}))
	case r.Status != supervisor.StatusRunning && r.Status != "" && r.Status != supervisor.StatusCompleted:
		return fmt.Errorf("%s ended (%s)", ref, endedAs(r.Status, r.ExitCode, palette{}))
	case r.Status == supervisor.StatusCompleted:
		fmt.Fprintf(a.Stderr, "%s ended (%s)\n", ref, endedAs(r.Status, r.ExitCode, palette{}))
	}
	return nil
}

// printStreams prints the text an answer carries of each stream, if any,
// to the writer for it.
func printStreams(stdout, stderr *string, wout, werr io.Writer) {
	for _, s := range []struct {
		text *string
		w    io.Writer
	}{{stdout, wout}, {stderr, werr}} {
		if s.text != nil && *s.text != "" {
			fmt.Fprintln(s.w, *s.text)
		}
	}
}

// endedAs is "failed, exit 3", the status coloured by pal.
func endedAs(status string, code *int, pal palette) string {
	if code == nil {
		return pal.status(status)
	}
	return fmt.Sprintf("%s, exit %d", pal.status(status), *code)
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
	pf := declareParams(fs, bgStatus(), "task_id", "wait_seconds")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage
	}
	return a.printList(ctx, pf, *asJSON)
}

// printList prints bg_status's list as a table: the live figures of
// running tasks, times in local time.
func (a *App) printList(ctx context.Context, pf *paramFlags, asJSON bool) error {
	l, err := invoke[StatusList](ctx, a, pf.tool, pf.params())
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.Stdout, l)
	}
	pal := a.palette(a.Stdout)
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	// A HOST column once tasks run elsewhere ("-" is here).
	hostCol := func(string) string { return "" }
	if len(l.Hosts) > 0 {
		hostCol = func(h string) string {
			if h == "" {
				h = "-"
			}
			return h + "\t"
		}
	}
	fmt.Fprintf(tw, "TASK\t%sLABEL\t%s\tSTARTED\tAGE\tAUTO-KILL\tCPU\tMEM\tPORTS\tCOMMAND\n", hostCol("HOST"), pal.paint(sgrDefault, "STATUS"))
	for _, t := range l.Tasks {
		label := printable(t.Label)
		if t.Label == t.TaskID {
			label = "" // No label: the id is in the first column already.
		}
		if t.Restarts > 0 {
			label += fmt.Sprintf(" (restarted %d)", t.Restarts)
		}
		cpu, mem := "", t.RSS
		if t.RSS != "" {
			cpu = fmt.Sprintf("%.1f%%", t.CPUPercent)
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TaskID, hostCol(t.Host), label, pal.status(t.Status), a.localTime(t.StartedAt),
			t.Age, t.AutoKill, cpu, mem, strings.Join(ports(t.Listening), ","), printable(t.Command))
	}
	_ = tw.Flush() // Stdout errors have nowhere to go.
	for _, h := range l.Hosts {
		if !h.Reachable {
			fmt.Fprintf(a.Stderr, "%s is unreachable, its tasks are shown as last known: %s\n", h.Host, h.Error)
		}
	}
	fmt.Fprintf(a.Stdout, "%d task(s), %d running", l.Summary.Total, l.Summary.Running)
	if l.Summary.Hidden > 0 {
		fmt.Fprintf(a.Stdout, ", %d older finished not shown (--all)", l.Summary.Hidden)
	}
	fmt.Fprintln(a.Stdout)
	return nil
}

// localTime shows a recorded UTC time in local time: the time of day for
// today, with the date before.
func (a *App) localTime(utc string) string {
	t, err := time.Parse(supervisor.TimeLayout, utc)
	if err != nil {
		return utc
	}
	t = t.Local()
	if y, m, d := a.Now().Local().Date(); t.Year() == y && t.Month() == m && t.Day() == d {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// ports are the ports of listening addresses ("127.0.0.1:5173"), each once.
func ports(listening []string) []string {
	var out []string
	for _, l := range listening {
		if i := strings.LastIndexByte(l, ':'); i >= 0 && !slices.Contains(out, l[i+1:]) {
			out = append(out, l[i+1:])
		}
	}
	return out
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

// oneID parses a command line of flags and one argument, in any order.
func oneID(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseMixed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", errUsage
	}
	return pos[0], nil
}

// cliStatus shows one task in detail, or without one the list.
func cliStatus(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print bg_status's JSON answer, for scripts")
	pf := declareParams(fs, bgStatus(), "task_id")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		return a.printList(ctx, pf, *asJSON)
	case 1:
	default:
		return errUsage
	}
	id, err := a.resolveRef(ctx, pos[0])
	if err != nil {
		return err
	}
	pf.set("task_id", id)
	d, err := invoke[TaskDetail](ctx, a, pf.tool, pf.params())
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
	if d.Label != d.TaskID {
		row("label", printable(d.Label))
	}
	pal := a.palette(a.Stdout)
	status := pal.status(d.Status)
	if d.ExitCode != nil {
		status += fmt.Sprintf(" (exit %d)", *d.ExitCode)
	}
	row("status", status)
	row("command", printable(d.Command))
	row("cwd", printable(d.Cwd))
	row("started", a.localTime(d.StartedAt)+" ("+d.Age+" ago)")
	if d.FinishedAt != "" {
		row("finished", a.localTime(d.FinishedAt))
	}
	if d.Restarts > 0 {
		row("restarts", strconv.Itoa(d.Restarts))
	}
	row("auto-kill", d.AutoKill)
	if d.Processes > 0 {
		row("processes", fmt.Sprintf("%d, %s, %.1f%% CPU, quiet for %s", d.Processes, d.RSS, d.CPUPercent, d.QuietFor))
	}
	row("listening", strings.Join(d.Listening, ", "))
	row("output", fmt.Sprintf("%d lines on stdout, %d on stderr (bgtask logs %s)", d.StdoutLines, d.StderrLines, printable(d.Label)))
	row("capture error", d.CaptureError)
	row("logs", d.LogDir)
	return tw.Flush()
}

// cliStop stops tasks: those named, or with --all every running one.
func cliStop(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	all := fs.Bool("all", false, "stop every running task")
	pf := declareParams(fs, bgStop(), "task_id")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if *all == (len(pos) > 0) {
		return errUsage
	}
	if action, _ := pf.params()["action"].(string); action == "cleanup" {
		// bg_stop's cleanup is bgtask rm (--action kill is what stop does).
		if *all {
			return a.removeAll(ctx, pf)
		}
		return cliRemove(ctx, a, pf, pos)
	}
	var ids, running []string // running: the labels of those running, for the message
	if *all {
		// The list bg_status gives: the tasks started from here on other
		// hosts are stopped too.
		l, err := invoke[StatusList](ctx, a, bgStatus(), map[string]any{"all": true})
		if err != nil {
			return err
		}
		for _, t := range l.Tasks {
			if t.Status == supervisor.StatusRunning {
				ids, running = append(ids, t.TaskID), append(running, printable(t.Label))
			}
		}
		if len(ids) == 0 {
			fmt.Fprintln(a.Stdout, "No task is running.")
			return nil
		}
	}
	for _, ref := range pos {
		id, err := a.resolveRef(ctx, ref)
		if err != nil {
			return err
		}
		ids = append(ids, id)
		if t, err := a.loadTask(ctx, id); err == nil && t.Status == supervisor.StatusRunning {
			running = append(running, printable(t.Label))
		}
	}
	// A stop can take the whole grace period: say so before it starts.
	settings, err := a.settings()
	if err != nil {
		return err
	}
	grace := settings.KillGrace
	switch len(running) {
	case 0:
	case 1:
		fmt.Fprintf(a.Stderr, "Stopping %s: SIGTERM to its processes, SIGKILL to those still running after %s...\n", running[0], formatDuration(grace))
	default:
		fmt.Fprintf(a.Stderr, "Stopping %d tasks (%s): SIGTERM to their processes, SIGKILL to those still running after %s...\n",
			len(running), strings.Join(running, ", "), formatDuration(grace))
	}
	// In parallel: ten tasks take one grace period, not ten.
	results := make([]StopResult, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = invoke[StopResult](ctx, a, pf.tool, map[string]any{"task_id": id})
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] == nil {
			fmt.Fprintln(a.Stdout, printable(results[i].Message))
		}
	}
	return errors.Join(errs...)
}

// followInterval is how often `logs -f` looks for new output: files give
// no portable way to be told that they grew.
const followInterval = 200 * time.Millisecond

// cliLogs prints a task's output for a person: the log as the program
// wrote it (-f follows it), or with any of bg_output's cleaning flags
// the cleaned lines, or with --since, --wait-seconds or --view one read
// exactly as an agent's bg_output call makes it.
func cliLogs(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	follow := fs.Bool("f", false, "follow: keep printing new output, across rotations, until the task ends")
	clean := fs.Bool("clean", false, "clean as the agent reads: escape codes and spinners gone, paths shortened, repeats collapsed")
	digest := fs.Bool("digest", false, "the same as --view digest: the digest of the log for diagnosis (errors with their context, summaries, the end)")
	pf := declareParams(fs, bgOutput(), "task_id")
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
		return errUsage
	}
	id, err := a.resolveRef(ctx, pos[0])
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
		out, err := invoke[OutputResult](ctx, a, pf.tool, pf.params())
		if err != nil {
			return err
		}
		printStreams(out.Stdout, out.Stderr, a.Stdout, a.Stderr)
		return nil
	}
	in, err := bindParams[OutputInput](pf.tool, pf.params())
	if err != nil {
		return err
	}
	if isRemote {
		return a.remoteLogs(ctx, rec, pf, *follow, *clean)
	}
	t, err := a.loadTask(ctx, id)
	if err != nil {
		return err
	}
	l := &logPrinter{a: a, t: t, tail: -1}
	if pf.given("tail") {
		l.tail = int64(in.Tail)
	}
	if pf.cleaning(*clean) {
		opts := in.cleanOptions(t.Cwd)
		if in.MaxLines == nil {
			opts.MaxLines = cleanedLogLines
		}
		if _, err := capture.NewPipeline(opts); err != nil {
			return err
		}
		l.cleaned = &opts
		l.reader = "cli-" + randomHex()
		defer removeCursors(t.Dir, l.reader)
	}
	for _, name := range []string{"stdout", "stderr"} {
		if in.Stream == "both" || in.Stream == name {
			w := a.Stdout
			if name == "stderr" {
				w = a.Stderr
			}
			st := &logStream{name: name, w: w, raw: w}
			if !in.Raw {
				st.raw, st.flush, st.close = a.logWriter(w)
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
				fmt.Fprintf(a.Stderr, "[%s ended: %s]\n", printable(l.t.Label), endedAs(l.t.Status, l.t.ExitCode, a.palette(a.Stderr)))
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

// resolveRef turns what a person typed into a task id: an id, or a
// label (the running task of that label, else its newest task).
func (a *App) resolveRef(ctx context.Context, ref string) (string, error) {
	recs := remote.RecordsIn(a.Store.Dir)
	if _, ok := recs.Get(ref); ok {
		return ref, nil
	}
	if supervisor.ValidID(ref) == nil {
		if _, err := a.Store.Load(ref); !errors.Is(err, supervisor.ErrNoTask) {
			return ref, nil // Or an error reading it, which the command reports.
		}
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
	// Tasks on other hosts, as last known: the running one, else the newest.
	var found *remote.Record
	for _, r := range recs.List() { // Oldest first: a later one is newer.
		if r.Label == ref && (found == nil || found.Status != supervisor.StatusRunning || r.Status == supervisor.StatusRunning) {
			found = &r
		}
	}
	if found != nil {
		return found.ID, nil
	}
	return "", fmt.Errorf("no task has the id or label %q (bgtask ls lists them)", ref)
}

// cliRestart stops a task and starts its command again, same label and
// folder, in its place: the old record goes, the new one counts the
// restart.
func cliRestart(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	id, err := a.oneTask(ctx, fs, args)
	if err != nil {
		return err
	}
	old, err := a.loadTask(ctx, id)
	if err != nil {
		return err
	}
	if old.Command == "" {
		return fmt.Errorf("%s records no command to run again", old.ID)
	}
	params := map[string]any{"command": old.Command, "label": old.Label, "cwd": old.Cwd,
		"timeout": old.TimeoutMinutes, "replace": true, "interactive": old.Interactive}
	if old.Notify != "" {
		params["notify"] = old.Notify
	}
	in, err := bindParams[RunInput](bgRun(), params)
	if err != nil {
		return err
	}
	if old.Label == old.ID {
		in.Label = "" // No label of its own: the new task is named by its new id.
		if old.Status == supervisor.StatusRunning {
			settings, err := a.settings()
			if err != nil {
				return err
			}
			if _, err := a.Store.Stop(ctx, old, settings.KillGrace); err != nil {
				return fmt.Errorf("stop %s: %w", old.ID, err)
			}
		}
	}
	n := old.Restarts + 1
	r, err := a.startRun(ctx, in, n)
	if err != nil {
		return err
	}
	// replace=true stopped the old task, if it ran: its record goes,
	// unless something removed it meanwhile (the agent's cleanup, the
	// reaper). Its end is recorded: the stop, or the load above, settled it.
	cur, err := a.Store.Load(old.ID)
	if err == nil && cur.Status != supervisor.StatusRunning {
		err = a.Store.Remove(cur)
	}
	if err != nil && !errors.Is(err, supervisor.ErrNoTask) {
		fmt.Fprintf(a.Stderr, "Could not remove the old record %s: %v\n", id, err)
	}
	fmt.Fprintln(a.Stdout, r.TaskID)
	fmt.Fprintf(a.Stderr, "Restarted %s as %s (pid %d, restart %d). Follow it with: bgtask logs %s -f\n", r.Label, r.TaskID, r.PID, n, r.Label)
	return nil
}

// cliRm removes finished tasks' records and logs: those named, or with
// --all every finished one.
func cliRm(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	all := fs.Bool("all", false, "remove every finished task (running ones are kept)")
	pf := declareParams(fs, bgStop(), "task_id", "action")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if *all == (len(pos) > 0) {
		return errUsage
	}
	if *all {
		return a.removeAll(ctx, pf)
	}
	return cliRemove(ctx, a, pf, pos)
}

// removeAll removes every finished task: bg_stop's cleanup without an id.
func (a *App) removeAll(ctx context.Context, pf *paramFlags) error {
	r, err := invoke[CleanupResult](ctx, a, pf.tool, map[string]any{"action": "cleanup"})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.Message)
	return nil
}

// cliRemove removes the finished tasks refs name.
func cliRemove(ctx context.Context, a *App, pf *paramFlags, refs []string) error {
	for _, ref := range refs {
		id, err := a.resolveRef(ctx, ref)
		if err != nil {
			return err
		}
		r, err := invoke[CleanupResult](ctx, a, pf.tool, map[string]any{"task_id": id, "action": "cleanup"})
		if err != nil {
			return err
		}
		if r.Cleaned == 0 {
			return fmt.Errorf("%s is still running: stop it first (bgtask stop %s)", id, ref)
		}
		if strings.HasPrefix(r.Message, forgotPrefix) {
			fmt.Fprintln(a.Stderr, r.Message) // Its host is down: only forgotten here.
		}
		fmt.Fprintf(a.Stdout, "Removed %s\n", id)
	}
	return nil
}

// cliSend types into an interactive task: the words after its id are
// the text.
func cliSend(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	pf := declareParams(fs, bgSend(), "task_id", "text")
	noEnter := fs.Bool("no-enter", false, "the same as --enter=false")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return errUsage
	}
	id, err := a.resolveRef(ctx, pos[0])
	if err != nil {
		return err
	}
	pf.set("task_id", id)
	if len(pos) > 1 {
		pf.set("text", strings.Join(pos[1:], " "))
	}
	if *noEnter {
		pf.set("enter", false)
	}
	r, err := invoke[SendResult](ctx, a, pf.tool, pf.params())
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
		if rev := PseudoCommit(v); rev != "" {
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
