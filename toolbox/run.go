package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

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
			"Output is captured; read it with bg_output (never cat the raw logs). The task and every process it starts are killed after `timeout` minutes (default 120; 0 disables). " +
			"When the project declares its services (Procfile, process-compose.yaml), start one by name with service instead of command: what it depends on starts first.",
		Params: []Param{
			{Name: "command", Type: "string", Description: "Shell command, run with bash -c (sh -c where bash is missing). Give command or service."},
			{Name: "service", Type: "string", Description: "Instead of command: start this service as the project declares it (a Procfile or process-compose.yaml in cwd or its nearest parent that has one), with what it depends on first, each waited for by its condition; the answer lists every service touched. One already running is reported, not started again."},
			{Name: "label", Type: "string", Description: "Short human-readable name, e.g. backend, tests. Default: the task id."},
			{Name: "cwd", Type: "string", Description: "Working directory; must exist. Default: the current directory."},
			{Name: "timeout", Type: "number", Min: minimum(0), Max: maximum(MaxTimeoutMinutes), Default: DefaultTimeoutMinutes, Description: "Minutes before the task is killed, fractions allowed, at most 43200 (30 days); 0 disables the auto-kill."},
			{Name: "notify", Type: "string", Enum: []string{"failure", "always", "never"}, Description: "Desktop notification when the task ends: on failure (default, or $BG_NOTIFY), always, or never."},
			{Name: "interactive", Type: "boolean", Default: false, Description: "Give the command a terminal on stdin, so bg_send can answer its prompts; otherwise stdin is /dev/null."},
			{Name: "restart", Type: "string", Enum: []string{supervisor.RestartNo, supervisor.RestartOnFailure, supervisor.RestartAlways}, Default: supervisor.RestartNo, Description: "Run the command again, under the same task_id and into the same logs, when it exits: on_failure (non-zero exit) or always; no: never. A stop, the timeout or the reaper end it for good."},
			{Name: "max_restarts", Type: "integer", Min: minimum(0), Default: 0, Description: "With restart: restarts at most this many, then give up (0: no limit)."},
			{Name: "backoff_seconds", Type: "number", Min: minimum(0), Max: maximum(3600), Default: 1, Description: "With restart: seconds to wait before each restart."},
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
	Service     string   `param:"service"`
	Restart     string   `param:"restart"`
	MaxRestarts int      `param:"max_restarts"`
	Backoff     float64  `param:"backoff_seconds"`
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
	// Host is where to run it; "" is here (see App.tasksAt).
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
	// With service: the stack file, every service touched (in start
	// order) and the keys of the file that were ignored.
	StackFile string         `json:"stack_file,omitempty"`
	Services  []ServiceState `json:"services,omitempty"`
	Ignored   []string       `json:"ignored,omitempty"`
}

func runBgRun(ctx context.Context, a *App, in RunInput) (RunResult, error) {
	tasks, err := a.tasksAt(in.Host, "host")
	if err != nil {
		return RunResult{}, err
	}
	return tasks.Start(ctx, in)
}

// startRun is bg_run, for a task restarted restarts times so far.
func (a *App) StartRun(ctx context.Context, in RunInput, restarts int) (RunResult, error) {
	req, wait, err := a.runRequest(ctx, in, restarts)
	if err != nil {
		return RunResult{}, err
	}
	req.AnswersAtOnce = !wait.any() // Else its output is what the call waits for.
	t, err := a.startUnique(ctx, in.Replace, req)
	if err != nil {
		return RunResult{}, err
	}
	res := startedResult(t)
	if !wait.any() {
		return res, nil
	}
	w, t := a.waitRun(ctx, t, wait)
	res.WaitResult, res.Status = w, t.Status
	a.tellWaitEnd(ctx, &res, t, wait)
	return res, nil
}

// runRequest checks bg_run's input and turns it into the supervisor's
// request and the wait it asks for. A port the task is to serve that
// something already serves is refused before anything starts: the task
// would only crash on it, or the wait would take the other server for
// ours.
func (a *App) runRequest(ctx context.Context, in RunInput, restarts int) (supervisor.Request, waitSpec, error) {
	var req supervisor.Request
	switch {
	case in.Command == "":
		return req, waitSpec{}, &InputError{Param: "command", Msg: "required (or service, to start one the project declares)"}
	case strings.TrimSpace(in.Command) == "":
		return req, waitSpec{}, &InputError{Param: "command", Msg: "must not be empty"}
	case in.Interactive && in.Restart != "" && in.Restart != supervisor.RestartNo:
		return req, waitSpec{}, &InputError{Param: "restart", Msg: "not with interactive=true: a restarted program would not have what was typed before"}
	}
	cwd, err := a.resolveCwd(in.Cwd)
	if err != nil {
		return req, waitSpec{}, err
	}
	settings, err := a.Settings()
	if err != nil {
		return req, waitSpec{}, err
	}
	wait, err := waitSpecFrom(in)
	if err != nil {
		return req, waitSpec{}, err
	}
	label := strings.TrimSpace(in.Label)
	if err := checkLabel(label); err != nil {
		return req, waitSpec{}, err
	}
	for _, p := range []struct {
		param string
		port  int
	}{{"wait_port", wait.port}, {"wait_url", wait.urlHere}} {
		if err := a.CheckPortFree(ctx, p.param, p.port, label, cwd); err != nil {
			return req, waitSpec{}, err
		}
	}
	return supervisor.Request{
		Command: in.Command, Label: label, Cwd: cwd,
		Timeout: supervisor.Minutes(in.Timeout), Notify: in.Notify, Log: settings.Log,
		Executable: a.supervisorExecutable(), Env: a.Environ, Interactive: in.Interactive,
		Restarts: restarts,
		Restart:  supervisor.RestartPolicy{Policy: in.Restart, Max: in.MaxRestarts, Backoff: time.Duration(in.Backoff * float64(time.Second))},
	}, wait, nil
}

// startedResult is bg_run's answer for a task just started: its id, and
// when it will be killed.
func startedResult(t *supervisor.Task) RunResult {
	started := fmt.Sprintf("Started %s (pid %d).", t.ID, t.Root.PID)
	if t.Label != t.ID {
		started = fmt.Sprintf("Started %q as %s (pid %d).", t.Label, t.ID, t.Root.PID)
	}
	msg := started + " No auto-kill (timeout=0): stop it with bg_stop."
	if dl := t.Deadline(); !dl.IsZero() {
		msg = fmt.Sprintf("%s Auto-kills in %s, at %s.", started, notify.FormatTimeout(t.Timeout), dl.UTC().Format(supervisor.TimeLayout))
	}
	return RunResult{
		TaskID: t.ID, PID: t.Root.PID, Command: t.Command, Label: t.Label, Cwd: t.Cwd,
		TimeoutMinutes: t.Timeout.Minutes(), Status: t.Status, Message: msg + " Read output with bg_output task_id=" + t.ID + ".",
	}
}

// tellWaitEnd words how bg_run's wait for t ended, in res: ready (with
// its start-up output), ended (with its digest), or not ready yet (with
// its last lines and how to wait more).
func (a *App) tellWaitEnd(ctx context.Context, res *RunResult, t *supervisor.Task, wait waitSpec) {
	w := res.WaitResult
	switch {
	case w.Ready:
		// Short: the agent knows what it started; it needs the news.
		res.Command, res.Cwd = "", ""
		// The start-up output comes with the news, problems first, and
		// the agent's next since-read shows what happens after ready (an
		// edit's verdict), not the banner and a stale "0 errors".
		res.Stdout, res.Stderr = a.startupOutput(ctx, t, w.Matched)
		// A command that printed what was awaited may end right after:
		// its status is read again rather than said to run on.
		keeps := "it keeps running."
		if cur, err := a.LoadTask(ctx, t.ID); err == nil && cur.Status != supervisor.StatusRunning {
			res.Status, res.ExitCode = cur.Status, cur.ExitCode
			keeps = fmt.Sprintf("it has ended since (%s).", endWords(cur))
		}
		res.Message = fmt.Sprintf("%s is ready; %s", t.Label, keeps)
		if wait.url != "" && res.HTTPStatus == 0 {
			res.Message = fmt.Sprintf("%s is ready: port %d accepts connections (https: no request was made, so no status); %s", t.Label, res.Port, keeps)
		}
		if res.Stdout != nil || res.Stderr != nil {
			res.Message += " Its start-up output follows; bg_output shows what comes next."
		}
	case t.Status != supervisor.StatusRunning:
		res.ExitCode = t.ExitCode
		res.Stdout, res.Stderr = a.outputOf(t, capture.ReadOptions{Clean: capture.Options{Digest: true, MaxLines: 60, Cwd: t.Cwd}})
		what := endWords(t)
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
	case !wait.hasCondition():
		// What was awaited is its end: bg_status waits for that.
		res.Stdout, res.Stderr = a.outputOf(t, capture.ReadOptions{Tail: 10, Clean: capture.Options{Cwd: t.Cwd}})
		res.Message = fmt.Sprintf("Still running after %gs: %s keeps running as %s. %s Wait for its end with bg_status task_id=%s wait_seconds=60.",
			wait.seconds, t.Label, t.ID, lastLinesNote(res.Stdout, res.Stderr), t.ID)
	default:
		res.Stdout, res.Stderr = a.outputOf(t, capture.ReadOptions{Tail: 10, Clean: capture.Options{Cwd: t.Cwd}})
		res.Message = fmt.Sprintf("Not ready after %gs: %s keeps running as %s. %s Wait more with bg_output task_id=%s wait_seconds=30.",
			wait.seconds, t.Label, t.ID, lastLinesNote(res.Stdout, res.Stderr), t.ID)
	}
}

// endWords says how t ended: "failed, exit 1", "killed".
func endWords(t *supervisor.Task) string {
	if t.ExitCode != nil {
		return fmt.Sprintf("%s, exit %d", t.Status, *t.ExitCode)
	}
	return t.Status
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
// StartupMaxLines, problems first; a stream with nothing is nil. The
// matched line, which the answer carries already, is left out once.
func (a *App) startupOutput(ctx context.Context, t *supervisor.Task, matched string) (stdout, stderr *string) {
	settleLogs(ctx, t.Dir)
	out := [2]*string{}
	for i, stream := range []string{"stdout", "stderr"} {
		r, err := capture.Read(t.Dir, stream, capture.ReadOptions{Since: true, Reader: a.reader(ctx),
			Clean: capture.Options{MaxLines: MaxLinesLimit, Cwd: t.Cwd}})
		noteMove(ctx, t.Dir, r.Moved)
		if i := slices.Index(r.Lines, matched); matched != "" && i >= 0 {
			// Said once, in matched; but a prompt (a last line without
			// newline, quiet) stays: this read delivers it, and no later
			// read shows it again while it waits for its answer.
			if !(r.QuietPartial && i == len(r.Lines)-1) {
				r.Lines = slices.Delete(r.Lines, i, i+1)
			}
			matched = ""
		}
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
