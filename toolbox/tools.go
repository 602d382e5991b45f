package toolbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Tools returns every agent tool, in the order agents should learn them.
func Tools() []*Tool {
	return []*Tool{RunTool(), StatusTool(), OutputTool(), StopTool(), SendTool()}
}

// ToolByCommand maps an executable name (bg-run, or bg_run) to its tool.
func ToolByCommand(name string) *Tool {
	name = strings.ReplaceAll(name, "-", "_")
	for _, t := range Tools() {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Command is t's toolbox entry name: bg_run is bg-run.
func (t *Tool) Command() string { return strings.ReplaceAll(t.Name, "_", "-") }

// DefaultTimeoutMinutes is bg_run's auto-kill delay when none is given.
const DefaultTimeoutMinutes = 120

// MaxTimeoutMinutes bounds bg_run's timeout (30 days): a deadline must stay
// a time the clock can reach; use 0 for no auto-kill at all.
const MaxTimeoutMinutes = 43200

func RunTool() *Tool {
	return &Tool{
		Name:  "bg_run",
		Title: "Run in the background",
		Description: "Start a long-running command (dev server, test suite, build, log tail) in the background and return a task_id at once. " +
			"Output is captured; read it with bg_output (never cat the raw logs). The task and every process it starts are killed after `timeout` minutes (default 120; 0 disables).",
		Params: []Param{
			{Name: "command", Type: "string", Required: true, Description: "Shell command, run with bash -c (sh -c where bash is missing)."},
			{Name: "label", Type: "string", Description: "Short human-readable name, e.g. backend, tests. Default: the task id."},
			{Name: "cwd", Type: "string", Description: "Working directory; must exist. Default: the current directory."},
			{Name: "timeout", Type: "number", Min: minimum(0), Max: maximum(MaxTimeoutMinutes), Default: DefaultTimeoutMinutes, Description: "Minutes before the task is killed, fractions allowed, at most 43200 (30 days); 0 disables the auto-kill."},
			{Name: "notify", Type: "string", Enum: []string{"failure", "always", "never"}, Description: "Desktop notification when the task ends: on failure (default, or $BG_NOTIFY), always, or never."},
			{Name: "interactive", Type: "boolean", Default: false, Description: "Give the command a terminal on stdin, so bg_send can answer its prompts; otherwise stdin is /dev/null."},
			{Name: "replace", Type: "boolean", Default: false, Description: "If a task with this label is already running in this cwd, stop it and its tree first (restart). Without it, bg_run refuses to start a duplicate."},
			{Name: "wait_for", Type: "string", Description: "Wait until a line of output matches this case-insensitive regex, e.g. ready|listening|compiled. Returns ready=true with the line."},
			{Name: "wait_port", Type: "integer", Min: minimum(1), Max: maximum(65535), Description: "Wait until a process of the task listens on this TCP port."},
			{Name: "wait_url", Type: "string", Description: "Wait until this http:// URL answers with a status below 500 (an https:// URL: until its port accepts connections; no TLS is spoken, so no status is reported). On this machine a process of the task must listen on its port, as for wait_port."},
			{Name: "wait_seconds", Type: "number", Min: minimum(0), Max: maximum(MaxWaitSeconds), Description: "How long to wait (default 30 with a wait_ condition, at most 600). Alone: wait for the task to end and return its result (a test run). " + mcpWaitNote()},
			{Name: "host", Type: "string", Description: "Run it on another machine: an ssh destination as your ssh knows it (an alias from ~/.ssh/config, host, user@host). The task id it returns works with every tool; cwd is then a folder there (default: the remote home)."},
		},
		Run:     handle(runBgRun),
		Results: []any{RunResult{}},
	}
}

// RunInput is bg_run's input (see bgRun for what each field means).
type RunInput struct {
	Command     string   `param:"command"`
	Label       string   `param:"label"`
	Cwd         string   `param:"cwd"`
	Timeout     float64  `param:"timeout"`
	Notify      string   `param:"notify"`
	Interactive bool     `param:"interactive"`
	Replace     bool     `param:"replace"`
	WaitFor     string   `param:"wait_for"`
	WaitPort    int      `param:"wait_port"`
	WaitURL     string   `param:"wait_url"`
	WaitSeconds *float64 `param:"wait_seconds"` // nil: the default depends on the condition
	// Host is where to run it; "" is here. Calls with one never reach
	// runBgRun: they go to that host (see routeOf).
	Host string `param:"host"`
}

// RunResult is bg_run's answer.
type RunResult struct {
	TaskID         string  `json:"task_id"`
	Host           string  `json:"host,omitempty"` // where it runs, when not here
	PID            int     `json:"pid"`
	Command        string  `json:"command,omitempty"` // omitted once ready: the agent knows
	Label          string  `json:"label"`
	Cwd            string  `json:"cwd,omitempty"`
	TimeoutMinutes float64 `json:"timeout_minutes"`
	Status         string  `json:"status"`
	Message        string  `json:"message"`
	// Set when the call waited (wait_for, wait_port, wait_url, wait_seconds).
	*WaitResult
	ExitCode *int    `json:"exit_code,omitempty"` // when the task ended during the wait
	Stdout   *string `json:"stdout,omitempty"`    // its start-up output when ready, its digest when it ended, its last lines when the wait timed out
	Stderr   *string `json:"stderr,omitempty"`
}

func runBgRun(ctx context.Context, a *App, in RunInput) (RunResult, error) {
	if in.Host != "" {
		// Calls with a host are routed there before they get here.
		return RunResult{}, &InputError{Param: "host", Msg: "this call cannot run on another host"}
	}
	return a.StartRun(ctx, in, 0)
}

// startRun is bg_run, for a task restarted restarts times so far.
func (a *App) StartRun(ctx context.Context, in RunInput, restarts int) (RunResult, error) {
	var res RunResult
	command := in.Command
	if strings.TrimSpace(command) == "" {
		return res, &InputError{Param: "command", Msg: "must not be empty"}
	}
	cwd, err := a.resolveCwd(in.Cwd)
	if err != nil {
		return res, err
	}
	settings, err := a.Settings()
	if err != nil {
		return res, err
	}
	timeout := in.Timeout
	wait, err := waitSpecFrom(in)
	if err != nil {
		return res, err
	}
	label := strings.TrimSpace(in.Label)
	if err := checkLabel(label); err != nil {
		return res, err
	}
	// A port the task is to serve that something already serves is
	// refused before anything starts: the task would only crash on it,
	// or the wait would take the other server for ours.
	for _, p := range []struct {
		param string
		port  int
	}{{"wait_port", wait.port}, {"wait_url", wait.urlHere}} {
		if err := a.CheckPortFree(ctx, p.param, p.port, label, cwd); err != nil {
			return res, err
		}
	}
	t, err := a.startUnique(ctx, in.Replace, supervisor.Request{
		Command: command, Label: label, Cwd: cwd,
		TimeoutMinutes: timeout, Notify: in.Notify, Log: settings.Log,
		Executable: a.supervisorExecutable(), Env: a.Environ, Interactive: in.Interactive,
		Restarts: restarts,
	})
	if err != nil {
		return res, err
	}
	started := fmt.Sprintf("Started %s (pid %d).", t.ID, t.Root.PID)
	if t.Label != t.ID {
		started = fmt.Sprintf("Started %q as %s (pid %d).", t.Label, t.ID, t.Root.PID)
	}
	msg := started + " No auto-kill (timeout=0): stop it with bg_stop."
	if dl := t.Deadline(); !dl.IsZero() {
		msg = fmt.Sprintf("%s Auto-kills in %s, at %s.", started, FormatTimeout(timeout), dl.UTC().Format(supervisor.TimeLayout))
	}
	res = RunResult{
		TaskID: t.ID, PID: t.Root.PID, Command: t.Command, Label: t.Label, Cwd: t.Cwd,
		TimeoutMinutes: timeout, Status: t.Status, Message: msg + " Read output with bg_output task_id=" + t.ID + ".",
	}
	if !wait.any() {
		return res, nil
	}
	w, t := a.waitRun(ctx, t, wait)
	res.WaitResult, res.Status = w, t.Status
	switch {
	case w.Ready:
		// Short: the agent knows what it started; it needs the news.
		res.Command, res.Cwd = "", ""
		// The start-up output comes with the news, problems first, and
		// the agent's next since-read shows what happens after ready (an
		// edit's verdict), not the banner and a stale "0 errors".
		res.Stdout, res.Stderr = a.startupOutput(ctx, t)
		res.Message = fmt.Sprintf("%s is ready; it keeps running.", t.Label)
		if wait.url != "" && res.HTTPStatus == 0 {
			res.Message = fmt.Sprintf("%s is ready: port %d accepts connections (https: no request was made, so no status); it keeps running.", t.Label, res.Port)
		}
		if res.Stdout != nil || res.Stderr != nil {
			res.Message += " Its start-up output follows; bg_output shows what comes next."
		}
	case t.Status != supervisor.StatusRunning:
		res.ExitCode = t.ExitCode
		res.Stdout, res.Stderr = a.outputOf(t, capture.ReadOptions{Clean: capture.Options{Digest: true, MaxLines: 60, Cwd: t.Cwd}})
		what := t.Status
		if t.ExitCode != nil {
			what = fmt.Sprintf("%s, exit %d", t.Status, *t.ExitCode)
		}
		if wait.hasCondition() {
			res.Message = fmt.Sprintf("%s ended (%s) before it was ready; the digest of its output follows.", t.Label, what) +
				a.portHint(ctx, t.ID, wait.ports(t.Command), res.Stderr, res.Stdout)
		} else {
			res.WaitResult = nil // Its end was what was awaited.
			res.Message = fmt.Sprintf("%s ended (%s); the digest of its output follows.", t.Label, what)
		}
	case w.WaitLeft > 0:
		res.Stdout, res.Stderr = a.outputOf(t, capture.ReadOptions{Tail: 10, Clean: capture.Options{Cwd: t.Cwd}})
		res.Message = fmt.Sprintf("Not ready yet: %s keeps running as %s. %s %s", t.Label, t.ID, waitMore(wait.more(t.ID, w.WaitLeft)), lastLinesNote(res.Stdout, res.Stderr))
	default:
		res.Stdout, res.Stderr = a.outputOf(t, capture.ReadOptions{Tail: 10, Clean: capture.Options{Cwd: t.Cwd}})
		res.Message = fmt.Sprintf("Not ready after %gs: %s keeps running as %s. %s Wait more with bg_output task_id=%s wait_seconds=30.",
			wait.seconds, t.Label, t.ID, lastLinesNote(res.Stdout, res.Stderr), t.ID)
	}
	return res, nil
}

// lastLinesNote says whether a timed-out wait's answer carries lines.
func lastLinesNote(stdout, stderr *string) string {
	if stdout == nil && stderr == nil {
		return "It has printed nothing yet."
	}
	return "Its last lines follow."
}

// StartupMaxLines caps the start-up output a ready bg_run carries.
const StartupMaxLines = 20

// startupOutput reads what t printed before it was ready with the caller's
// cursors, which it moves to the end, and condenses each stream to
// StartupMaxLines, problems first; a stream with nothing is nil.
func (a *App) startupOutput(ctx context.Context, t *supervisor.Task) (stdout, stderr *string) {
	settleLogs(ctx, t.Dir)
	out := [2]*string{}
	for i, stream := range []string{"stdout", "stderr"} {
		r, err := capture.Read(t.Dir, stream, capture.ReadOptions{Since: true, Reader: a.reader(ctx),
			Clean: capture.Options{MaxLines: MaxLinesLimit, Cwd: t.Cwd}})
		if err != nil || len(r.Lines) == 0 {
			continue // Best effort: the next read shows it.
		}
		text := strings.Join(capture.Condense(r.Lines, StartupMaxLines), "\n")
		out[i] = &text
	}
	return out[0], out[1]
}

// The supervisor copies stdout and stderr to their logs in separate
// goroutines, so a warning the program printed on stderr before its ready
// line on stdout can reach its log after that line was seen. Before the
// ready answer reads the start-up output, both logs must have been still
// for startupQuiet, at most startupSettleMax (a chatty server).
const (
	startupQuiet     = 250 * time.Millisecond
	startupSettleMax = time.Second
)

// settleLogs waits until the task's logs in dir have been still for
// startupQuiet, or startupSettleMax has passed. Files give no event to
// wait on across processes: it looks every startupQuiet/4.
func settleLogs(ctx context.Context, dir string) {
	deadline := time.Now().Add(startupSettleMax)
	for {
		var newest time.Time
		for _, stream := range []string{"stdout", "stderr"} {
			if fi, err := os.Stat(filepath.Join(dir, stream)); err == nil && fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
		if time.Since(newest) >= startupQuiet || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(startupQuiet / 4):
		}
	}
}

// outputOf reads both streams of t with o (no cursor moves); a stream with
// nothing to show is nil.
func (a *App) outputOf(t *supervisor.Task, o capture.ReadOptions) (stdout, stderr *string) {
	o.WriterDone = t.Status != supervisor.StatusRunning
	out := [2]*string{}
	for i, stream := range []string{"stdout", "stderr"} {
		r, err := capture.Read(t.Dir, stream, o)
		if err != nil || len(r.Lines) == 0 {
			continue
		}
		text := strings.Join(r.Lines, "\n")
		out[i] = &text
	}
	return out[0], out[1]
}

// resolveCwd makes dir absolute (relative to the caller's directory, ~ to
// HOME) and checks that it is an existing folder.
func (a *App) resolveCwd(dir string) (string, error) {
	switch {
	case dir == "":
		dir = a.Wd
	case dir == "~" || strings.HasPrefix(dir, "~/"):
		dir = filepath.Join(a.Getenv("HOME"), dir[1:])
	case !filepath.IsAbs(dir):
		dir = filepath.Join(a.Wd, dir)
	}
	if dir == "" {
		return "", &InputError{Param: "cwd", Msg: "no current directory known: give an absolute cwd"}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", &InputError{Param: "cwd", Msg: fmt.Sprintf("%s does not exist", dir)}
	}
	if !fi.IsDir() {
		return "", &InputError{Param: "cwd", Msg: fmt.Sprintf("%s is not a directory", dir)}
	}
	return filepath.Clean(dir), nil
}

func StatusTool() *Tool {
	return &Tool{
		Name:     "bg_status",
		Title:    "Background task status",
		ReadOnly: true,
		Description: "List background tasks (status, age, auto-kill countdown, ports listened on): the running ones and the 10 newest finished; " +
			"or one task in detail: exit code, output size, and for a running one its ports, processes, memory, CPU and how long it has been quiet.",
		Params: []Param{
			{Name: "task_id", Type: "string", Description: "A task id from bg_run; omit to list tasks."},
			{Name: "all", Type: "boolean", Default: false, Description: "List every task, not only the running ones and the 10 newest finished."},
			{Name: "wait_seconds", Type: "number", Min: minimum(0), Max: maximum(MaxWaitSeconds), Description: "With task_id: wait up to this long for the task to end before answering. " + mcpWaitNote()},
		},
		Run:     handle(runBgStatus),
		Results: []any{StatusList{}, TaskDetail{}},
	}
}

// StatusInput is bg_status's input.
type StatusInput struct {
	TaskID      string  `param:"task_id"`
	All         bool    `param:"all"`
	WaitSeconds float64 `param:"wait_seconds"`
}

// TaskSummary is one row of bg_status's list.
type TaskSummary struct {
	TaskID    string `json:"task_id"`
	Host      string `json:"host,omitempty"` // where it runs, when not here
	Label     string `json:"label"`
	Status    string `json:"status"`
	Command   string `json:"command"`
	PID       int    `json:"pid"`
	StartedAt string `json:"started_at"`
	Age       string `json:"age"`
	AutoKill  string `json:"auto_kill"`
	// CaptureError says what output could not be written (a full disk)
	// and how much was dropped.
	CaptureError string `json:"capture_error,omitempty"`
	// Listening lists the TCP addresses a running task's processes
	// listen on: an agent finds its dev server without reading logs.
	Listening []string `json:"listening,omitempty"`
	// For a running task, from its process tree:
	RSS        string  `json:"rss,omitempty"` // "148 MB"
	CPUPercent float64 `json:"cpu_percent,omitempty"`
	// Restarts counts `bgtask restart`s of the task under its label.
	Restarts int `json:"restarts,omitempty"`
}

// TaskDetail is bg_status's answer for one task.
type TaskDetail struct {
	TaskSummary
	Cwd            string  `json:"cwd"`
	FinishedAt     string  `json:"finished_at,omitempty"`
	ExitCode       *int    `json:"exit_code"`
	TimeoutMinutes float64 `json:"timeout_minutes"`
	StdoutLines    int64   `json:"stdout_lines"`
	StderrLines    int64   `json:"stderr_lines"`
	StdoutBytes    int64   `json:"stdout_bytes"`
	StderrBytes    int64   `json:"stderr_bytes"`
	LogDir         string  `json:"log_dir"`
	// For a running task, from its process tree:
	Processes int    `json:"processes,omitempty"`
	QuietFor  string `json:"quiet_for,omitempty"` // since its last output
	// Set when a wait stopped at the call's time limit (CallLimit) before
	// wait_seconds: the seconds left, and how to go on waiting.
	WaitLeft float64 `json:"wait_left,omitempty"`
	Message  string  `json:"message,omitempty"`
}

// StatusList is bg_status's answer without task_id.
type StatusList struct {
	Tasks   []TaskSummary `json:"tasks"`
	Summary struct {
		Total   int `json:"total"`
		Running int `json:"running"`
		// Hidden counts finished tasks left out of the list (all=true shows them).
		Hidden int `json:"hidden,omitempty"`
	} `json:"summary"`
	// Hosts are the other machines running tasks started from here,
	// each reachable or not (then its tasks are listed as last known).
	Hosts []HostState `json:"hosts,omitempty"`
}

// listedFinished is how many finished tasks the list shows, newest first:
// a thousand old tasks must not flood an agent's context.
const listedFinished = 10

// runBgStatus answers a TaskDetail with a task_id, else a StatusList.
func runBgStatus(ctx context.Context, a *App, in StatusInput) (any, error) {
	if in.TaskID != "" {
		return taskDetail(ctx, a, in)
	}
	return listTasks(ctx, a, in)
}

// taskDetail is bg_status for one task.
func taskDetail(ctx context.Context, a *App, in StatusInput) (TaskDetail, error) {
	t, err := a.LoadTask(ctx, in.TaskID)
	if err != nil {
		return TaskDetail{}, err
	}
	var left float64
	if wait := in.WaitSeconds; wait > 0 && t.Status == supervisor.StatusRunning {
		var w *WaitResult
		w, t = a.waitRun(ctx, t, waitSpec{seconds: wait})
		left = w.WaitLeft
	}
	d := TaskDetail{TaskSummary: a.summarize(t), Cwd: t.Cwd, ExitCode: t.ExitCode, TimeoutMinutes: t.TimeoutMinutes, LogDir: t.Dir}
	if left > 0 && t.Status == supervisor.StatusRunning {
		d.WaitLeft = left
		d.Message = "Still running. " + waitMore(fmt.Sprintf("bg_status task_id=%s wait_seconds=%g", t.ID, left))
	}
	if t.Status == supervisor.StatusRunning {
		if tree, err := procs.TaskTree(ctx, t.Root, t.ID); err == nil {
			if u, err := procs.TreeUsage(ctx, tree); err == nil {
				d.Processes = u.Processes
				d.TaskSummary.setUsage(u)
			}
		}
		d.QuietFor = FormatDuration(a.Now().Sub(lastOutput(t.Dir)))
	}
	if !t.FinishedAt.IsZero() {
		d.FinishedAt = t.FinishedAt.UTC().Format(supervisor.TimeLayout)
	}
	for _, s := range []struct {
		name         string
		lines, bytes *int64
	}{{"stdout", &d.StdoutLines, &d.StdoutBytes}, {"stderr", &d.StderrLines, &d.StderrBytes}} {
		st, err := capture.OpenStream(t.Dir, s.name)
		if err != nil {
			return TaskDetail{}, err
		}
		stats := st.Stats()
		_ = st.Close() // Read only.
		*s.lines, *s.bytes = stats.Lines, stats.Bytes
	}
	return d, nil
}

// listTasks is bg_status's list.
func listTasks(ctx context.Context, a *App, in StatusInput) (StatusList, error) {
	// A first pass reads only each task's status; only the tasks shown
	// are read in full, so a thousand old tasks cost a thousand small
	// reads, not seventeen thousand.
	out := StatusList{Tasks: []TaskSummary{}}
	refs, err := a.Store.Refs()
	if err != nil {
		return out, err
	}
	all := in.All
	finished := 0
	for _, r := range refs {
		if r.Status != supervisor.StatusRunning {
			finished++
		}
	}
	var table *procs.Table // read once, for the ports of every running task
	for _, r := range refs {
		out.Summary.Total++
		if r.Status != supervisor.StatusRunning {
			// Oldest first: skip all but the newest listedFinished.
			if finished--; !all && finished >= listedFinished {
				out.Summary.Hidden++
				continue
			}
		}
		t, err := a.Store.Load(r.ID)
		if err != nil {
			out.Summary.Total--
			continue // Removed meanwhile.
		}
		if settled, err := a.Store.Settle(ctx, t); err == nil {
			t = settled // Else (a full disk) list it as recorded: one task never breaks the list.
		}
		s := a.summarize(t)
		if t.Status == supervisor.StatusRunning {
			out.Summary.Running++
			if table == nil {
				table, _ = procs.Snapshot(ctx)
			}
			if table != nil {
				if u, err := procs.TreeUsage(ctx, table.Tree(t.Root, t.ID)); err == nil {
					s.setUsage(u)
				}
			}
		}
		out.Tasks = append(out.Tasks, s)
	}
	return out, nil
}

// setUsage fills in a running task's live figures.
func (s *TaskSummary) setUsage(u procs.Usage) {
	s.Listening, s.CPUPercent = u.Listening, math.Round(u.CPUPercent*10)/10
	s.RSS = fmt.Sprintf("%d MB", (u.RSSBytes+1<<19)>>20)
}

// lastOutput is when the task last wrote output: the newer of its logs'
// modification times.
func lastOutput(dir string) time.Time {
	var last time.Time
	for _, name := range []string{"stdout", "stderr"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	return last
}

// loadTask loads a task and settles it (see Store.Settle).
func (a *App) LoadTask(ctx context.Context, id string) (*supervisor.Task, error) {
	t, err := a.Store.Load(id)
	if errors.Is(err, supervisor.ErrInvalidID) || errors.Is(err, supervisor.ErrNoTask) {
		return nil, &InputError{Param: "task_id", Msg: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	if settled, err := a.Store.Settle(ctx, t); err == nil {
		return settled, nil
	}
	return t, nil // Recording its end failed (a full disk): as recorded.
}

func (a *App) summarize(t *supervisor.Task) TaskSummary {
	now := a.Now()
	s := TaskSummary{
		TaskID: t.ID, Label: t.Label, Status: t.Status, Command: t.Command, PID: t.Root.PID,
		StartedAt:    t.StartedAt.UTC().Format(supervisor.TimeLayout),
		Age:          FormatDuration(now.Sub(t.StartedAt)),
		AutoKill:     "finished",
		CaptureError: t.CaptureError,
		Restarts:     t.Restarts,
	}
	if t.Status == supervisor.StatusRunning {
		s.AutoKill = autoKill(t.Deadline(), now, time.Duration(t.TimeoutMinutes*float64(time.Minute)))
		if t.Unrecorded != "" {
			s.AutoKill = "ENDED: the command is gone, outcome not recorded: " + t.Unrecorded + "; its supervisor records it once space is freed"
		}
		if t.Unsupervised {
			s.AutoKill = "NOT ENFORCED: its supervisor is gone (killed?); stop it with bg_stop, or the reaper ends it at a shell start once it is past its timeout or older than --max-age (3 h)"
		}
	}
	return s
}

// autoKill is the countdown agents see: "95m left", "EXPIRING in 4m",
// "OVERDUE", or "no timeout". EXPIRING warns in the last ten minutes, or
// the last quarter of a shorter timeout: a 10-minute task is not
// expiring at its start.
func autoKill(deadline, now time.Time, timeout time.Duration) string {
	if deadline.IsZero() {
		return "no timeout"
	}
	left := deadline.Sub(now)
	switch {
	case left <= 0:
		return "OVERDUE"
	case left < min(10*time.Minute, timeout/4):
		return fmt.Sprintf("EXPIRING in %s", formatMinutes(left.Minutes()))
	default:
		return fmt.Sprintf("%s left", formatMinutes(left.Minutes()))
	}
}

// formatMinutes prints a countdown, rounded: "120m", or "30s" under one
// minute.
func formatMinutes(m float64) string {
	if m < 1 {
		return fmt.Sprintf("%ds", int(m*60+0.5))
	}
	return fmt.Sprintf("%dm", int(m+0.5))
}

// formatTimeout prints a timeout exactly, to the second: "1m30s", "4h",
// "2h30m", "30s".
func FormatTimeout(m float64) string {
	s := int64(m*60 + 0.5)
	var b strings.Builder
	for _, u := range []struct {
		secs int64
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if n := s / u.secs; n > 0 || u.secs == 1 && b.Len() == 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			s -= n * u.secs
		}
	}
	return b.String()
}

// formatDuration prints an age: "45s", "12m", "3h05m", "2d4h".
func FormatDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

func StopTool() *Tool {
	return &Tool{
		Name:        "bg_stop",
		Title:       "Stop or clean up background tasks",
		Destructive: true,
		Description: "Stop a running task with its whole process tree (action=kill, the default), or remove finished tasks' records and logs (action=cleanup; " +
			"with task_id only that task).",
		Params: []Param{
			{Name: "task_id", Type: "string", Description: "The task to stop (required for kill)."},
			{Name: "action", Type: "string", Enum: []string{"kill", "cleanup"}, Default: "kill", Description: "kill: stop the task; cleanup: delete finished tasks."},
		},
		Run:     handle(runBgStop),
		Results: []any{StopResult{}, CleanupResult{}},
	}
}

// StopInput is bg_stop's input.
type StopInput struct {
	TaskID string `param:"task_id"`
	Action string `param:"action"`
}

// StopResult is bg_stop's answer for kill.
type StopResult struct {
	TaskID  string `json:"task_id"`
	Host    string `json:"host,omitempty"`
	PID     int    `json:"pid"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// CleanupResult is bg_stop's answer for cleanup.
type CleanupResult struct {
	Action  string `json:"action"`
	Cleaned int    `json:"cleaned"`
	Message string `json:"message"`
}

// runBgStop answers a CleanupResult for action=cleanup, else a StopResult.
func runBgStop(ctx context.Context, a *App, in StopInput) (any, error) {
	if in.Action == "cleanup" {
		return cleanupTasks(ctx, a, in)
	}
	return stopTask(ctx, a, in)
}

// stopTask is bg_stop's kill.
func stopTask(ctx context.Context, a *App, in StopInput) (StopResult, error) {
	if in.TaskID == "" {
		return StopResult{}, &InputError{Param: "task_id", Msg: "required to kill a task (or use action=cleanup)"}
	}
	t, err := a.LoadTask(ctx, in.TaskID)
	if err != nil {
		return StopResult{}, err
	}
	if t.Status != supervisor.StatusRunning {
		return StopResult{TaskID: t.ID, PID: t.Root.PID, Status: t.Status,
			Message: fmt.Sprintf("%s (%s) is not running: it ended as %s. Nothing to stop.", t.ID, t.Label, t.Status)}, nil
	}
	settings, err := a.Settings()
	if err != nil {
		return StopResult{}, err
	}
	t, err = a.Store.Stop(ctx, t, settings.KillGrace)
	if err != nil {
		return StopResult{}, err
	}
	msg := fmt.Sprintf("Stopped %s and every process it started.", t.Label)
	if t.StopNote != "" {
		msg = fmt.Sprintf("Stopped %s and every process it started: %s.", t.Label, t.StopNote)
	}
	if t.Status == supervisor.StatusCompleted || t.Status == supervisor.StatusFailed {
		msg = fmt.Sprintf("%s (%s) ended on its own (%s) just before the stop; every process it started is gone.", t.ID, t.Label, t.Status)
	}
	return StopResult{TaskID: t.ID, PID: t.Root.PID, Status: t.Status, Message: msg}, nil
}

// cleanupTasks is bg_stop's cleanup: of one task with a task_id, else of
// every finished one, here and those started from here on other hosts.
func cleanupTasks(ctx context.Context, a *App, in StopInput) (CleanupResult, error) {
	id := in.TaskID
	res := CleanupResult{Action: "cleanup"}
	var tasks []*supervisor.Task
	if id != "" {
		t, err := a.LoadTask(ctx, id)
		if err != nil {
			return res, err
		}
		tasks = append(tasks, t)
	} else {
		all, err := a.Store.List()
		if err != nil {
			return res, err
		}
		tasks = all
	}
	running := 0
	var failed []string // One task that cannot be removed must not keep the rest.
	for _, t := range tasks {
		t, err := a.Store.Settle(ctx, t)
		if err == nil && t.Status == supervisor.StatusRunning {
			running++
			continue
		}
		if err == nil {
			err = a.Store.Remove(t)
		}
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		res.Cleaned++
	}
	if id == "" {
		cleaned, kept, unreached := a.cleanRemote(ctx)
		res.Cleaned += cleaned
		running += kept
		failed = append(failed, unreached...)
	}
	res.Message = fmt.Sprintf("Removed %d finished task(s); %d running task(s) kept.", res.Cleaned, running)
	if len(failed) > 0 {
		if res.Cleaned == 0 && id != "" {
			return res, errors.New(failed[0])
		}
		res.Message += fmt.Sprintf(" Could not remove %d: %s.", len(failed), strings.Join(failed, "; "))
	}
	return res, nil
}
