package toolbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

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
			{Name: "port", Type: "integer", Min: minimum(1), Max: maximum(65535), Description: "Instead of tasks: who listens on this TCP port of this machine, our task (id, label, cwd) or another program (pid, command, cwd, user). Never stop another program's server to free its port: use another port, or ask the user."},
		},
		Run:     handle(runBgStatus),
		Results: []any{StatusList{}, TaskDetail{}, PortStatus{}},
	}
}

// StatusInput is bg_status's input.
type StatusInput struct {
	TaskID      string  `param:"task_id"`
	All         bool    `param:"all"`
	WaitSeconds float64 `param:"wait_seconds"`
	Port        int     `param:"port"`
}

// PortStatus is bg_status's answer with port.
type PortStatus struct {
	Port int `json:"port"`
	// Holders are who listen on it, our tasks first; none when it is free.
	Holders []PortHolder `json:"holders"`
	Message string       `json:"message"`
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
	// ExitCode is a finished task's exit code (128+N for death by
	// signal N), when it has one: people see `failed 1`, as pm2 shows.
	ExitCode *int `json:"exit_code,omitempty"`
	// Restarts counts how often the command was run again under this
	// id (its restart policy, bgtask restart); LastExitCode is the exit
	// code before the latest.
	Restarts     int  `json:"restarts,omitempty"`
	LastExitCode *int `json:"last_exit_code,omitempty"`
	// Restart is the task's restart policy, when it has one.
	Restart string `json:"restart,omitempty"`
	// Stack is the stack file declaring the task as the service its
	// label names.
	Stack string `json:"stack,omitempty"`
	// Supervisor is set when a running task's supervisor is gone (killed
	// by hand or by the OOM killer): "gone: …" says what that means.
	Supervisor string `json:"supervisor,omitempty"`
	// RecordUnreadable lists the fields of the task's record whose file
	// holds no valid value: they read as unknown; the task is still
	// readable and stoppable.
	RecordUnreadable []string `json:"record_unreadable,omitempty"`
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
	// The restart policy's limits, when the task has one: at most
	// MaxRestarts restarts by the policy (0: no limit), BackoffSeconds
	// before each.
	MaxRestarts    *int     `json:"max_restarts,omitempty"`
	BackoffSeconds *float64 `json:"backoff_seconds,omitempty"`
	// Notify is when the end sends a desktop notification (failure,
	// always, never); empty when the environment decides (BG_NOTIFY).
	Notify string `json:"notify,omitempty"`
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
	Summary ListSummary   `json:"summary"`
	// Hosts are the other machines running tasks started from here,
	// each reachable or not (then its tasks are listed as last known).
	Hosts []HostState `json:"hosts,omitempty"`
}

// ListSummary counts every task of a list, those left out of it too.
type ListSummary struct {
	Total   int `json:"total"`
	Running int `json:"running"`
	// Hidden counts finished tasks left out of the list (all=true shows them).
	Hidden int `json:"hidden,omitempty"`
}

// listedFinished is how many finished tasks the list shows, newest first:
// a thousand old tasks must not flood an agent's context.
const listedFinished = 10

// runBgStatus answers a TaskDetail with a task_id, else a StatusList.
func runBgStatus(ctx context.Context, a *App, in StatusInput) (any, error) {
	if in.Port != 0 {
		if in.TaskID != "" || in.All || in.WaitSeconds != 0 {
			return nil, &InputError{Param: "port", Msg: "asks who holds a port: give it alone, without task_id, all or wait_seconds"}
		}
		return portStatus(ctx, a, in.Port)
	}
	if in.TaskID != "" {
		return a.tasksOf(in.TaskID).Status(ctx, in)
	}
	return a.listEverywhere(ctx, in)
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
	d := TaskDetail{TaskSummary: a.summarize(t), Cwd: t.Cwd, ExitCode: t.ExitCode, TimeoutMinutes: t.Timeout.Minutes(), LogDir: t.Dir, Notify: t.Notify}
	if t.Restart.On() {
		limit, backoff := t.Restart.Max, t.Restart.Backoff.Seconds()
		d.MaxRestarts, d.BackoffSeconds = &limit, &backoff
	}
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
		if d.Processes == 0 && t.LastExitCode != nil && t.Restart.On() {
			// Between two runs: the command exited and its restart
			// policy is waiting out the backoff (bgtask restart, too).
			d.Message = joinNotes(d.Message, fmt.Sprintf("Its command exited %d; its restart policy runs it again after the backoff (%d restart(s) so far).", *t.LastExitCode, t.Restarts))
		}
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
		if st.EndsPartial() {
			stats.Lines++ // A prompt is a line too, as bg_output counts it.
		}
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
	refs, err := a.refs(ctx)
	if err != nil {
		return out, err
	}
	a.Store.RememberEnded(refs) // The next list reads one file for the tasks that ended by now.
	all := in.All
	finished := 0
	for _, r := range refs {
		if r.Status != supervisor.StatusRunning {
			finished++
		}
	}
	// Read once for every running task: the process table, and the
	// listening sockets (their ports).
	var table *procs.Table
	var listen *procs.ListenTable
	for _, r := range refs {
		out.Summary.Total++
		if r.Status != supervisor.StatusRunning {
			// Oldest first: skip all but the newest listedFinished.
			if finished--; !all && finished >= listedFinished {
				out.Summary.Hidden++
				continue
			}
		}
		var t *supervisor.Task
		if a.Records != nil {
			t, err = a.Records.Load(a.Store, r.ID, r.Status)
		} else {
			t, err = a.Store.Load(r.ID)
		}
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
				if a.Procs != nil {
					table, _ = a.Procs.Snapshot(ctx)
				} else {
					table, _ = procs.Snapshot(ctx)
				}
				listen, _ = procs.ReadListenTable() // Without it, each process's sockets are asked for.
			}
			if table != nil {
				if u, err := procs.TreeUsageWith(ctx, table.Tree(t.Root, t.ID), listen); err == nil {
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
	load := a.Store.Load
	if a.Records != nil { // The call server's: an ended task's record is read once.
		load = func(id string) (*supervisor.Task, error) { return a.Records.LoadEnded(a.Store, id) }
	}
	t, err := load(id)
	if errors.Is(err, taskid.ErrInvalidID) || errors.Is(err, supervisor.ErrNoTask) {
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
		LastExitCode: t.LastExitCode,
		Stack:        t.Stack,
	}
	if t.Restart.Policy != supervisor.RestartNo {
		s.Restart = t.Restart.Policy
	}
	if t.Status != supervisor.StatusRunning {
		s.ExitCode = t.ExitCode
	}
	if t.Status == supervisor.StatusRunning {
		s.AutoKill = autoKill(t.Deadline(), now, t.Timeout)
		if t.Unrecorded != "" {
			s.AutoKill = "ENDED: the command is gone, outcome not recorded: " + t.Unrecorded + "; its supervisor records it once space is freed"
		}
		if t.Unsupervised {
			s.AutoKill = NotEnforced("bg_stop")
			s.Supervisor = SupervisorGone("bg_stop task_id=" + t.ID)
		}
	}
	s.RecordUnreadable = t.Unreadable
	return s
}

// NotEnforced is the auto-kill of a running task whose supervisor is
// gone; stop is how the reader stops it (bg_stop for an agent, bgtask
// stop web for a person).
func NotEnforced(stop string) string {
	return "NOT ENFORCED: its supervisor is gone (killed?); stop it with " + stop +
		", or the reaper ends it at a shell start once it is past its timeout or older than --max-age (3 h)"
}

// SupervisorGone says what a running task whose supervisor is gone
// means; stop is how the reader stops it (see NotEnforced).
func SupervisorGone(stop string) string {
	return "gone: the command runs on, but its output is no longer captured and nobody enforces its timeout; " +
		"the reaper ends it at a shell start once it is past its timeout or older than --max-age (3 h); stop it now with " + stop
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
		return fmt.Sprintf("EXPIRING in %s", formatCountdown(left))
	default:
		return fmt.Sprintf("%s left", formatCountdown(left))
	}
}

// listingKey is the context key of a call's one listing of the store.
type listingKey struct{}

// withOneListing makes the listings of the store within ctx one: a call's
// answer and its notices see the same tasks, and bg_status over a
// thousand tasks lists them once, not once for each. The listing is
// shared between goroutines: read it, never change it.
func withOneListing(ctx context.Context, s supervisor.Store) context.Context {
	return context.WithValue(ctx, listingKey{}, sync.OnceValues(s.Refs))
}

// refs lists the store's tasks (see supervisor.Store.Refs), once per call
// made with withOneListing.
func (a *App) refs(ctx context.Context) ([]supervisor.TaskRef, error) {
	if list, ok := ctx.Value(listingKey{}).(func() ([]supervisor.TaskRef, error)); ok {
		return list()
	}
	return a.Store.Refs()
}
