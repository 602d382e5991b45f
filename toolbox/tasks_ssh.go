package toolbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// sshTasks is Tasks on another host: each operation is the same tool
// there, run by our lean build that package remote deploys and reaches
// over ssh; cursors, cleaning, waits run there and only the answer comes
// back. rec is the record of the task the call is about, when it is.
type sshTasks struct {
	a    *App
	host string
	rec  remote.Record
}

// remoteAnswer is a tool's answer that came from another host: atHost
// marks where it came from (its Host field), and learned is what it tells
// of its task's state, which the record here keeps (see App.learn).
type remoteAnswer interface {
	atHost(host string)
	learned() (id, status string, exitCode *int)
}

func (r *RunResult) atHost(h string) { r.Host = h }
func (r *RunResult) learned() (string, string, *int) {
	return r.TaskID, r.Status, r.ExitCode
}
func (r *TaskDetail) atHost(h string) { r.Host = h }
func (r *TaskDetail) learned() (string, string, *int) {
	return r.TaskID, r.Status, r.ExitCode
}
func (r *OutputResult) atHost(h string)                  { r.Host = h }
func (r *OutputResult) learned() (string, string, *int)  { return r.TaskID, r.Status, nil }
func (r *StopResult) atHost(h string)                    { r.Host = h }
func (r *StopResult) learned() (string, string, *int)    { return r.TaskID, r.Status, nil }
func (r *SendResult) atHost(h string)                    { r.Host = h }
func (r *SendResult) learned() (string, string, *int)    { return "", "", nil }
func (r *CleanupResult) atHost(string)                   {}
func (r *CleanupResult) learned() (string, string, *int) { return "", "", nil }
func (l *StatusList) atHost(h string) {
	for i := range l.Tasks {
		l.Tasks[i].Host = h
	}
}
func (l *StatusList) learned() (string, string, *int) { return "", "", nil }

// callThere runs tool t on host with in's parameters and returns its
// answer typed, marked as from there and learned from; the notices the
// answer carried go to the call's sink. wait is how long the tool may
// wait there, for progress reports here.
func callThere[Out any, P interface {
	*Out
	remoteAnswer
}](ctx context.Context, a *App, host string, t *Tool, in any, wait float64) (Out, error) {
	var out Out
	params, err := json.Marshal(paramsOf(t, in))
	if err != nil {
		return out, fmt.Errorf("%s on %s: encode the parameters: %w", t.Name, host, err)
	}
	stop := remoteWaitProgress(ctx, wait)
	ans, notices, err := a.callRemote(ctx, host, t.Name, params)
	stop()
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(ans, &out); err != nil {
		return out, fmt.Errorf("the answer of %s on %s: %v: %.200s", t.Name, host, err, ans)
	}
	P(&out).atHost(host)
	if id, status, code := P(&out).learned(); id != "" {
		a.learn(ctx, id, status, code)
	}
	for i := range notices {
		notices[i].Host = host // Said there, of a task there.
	}
	a.learnNotices(ctx, notices)
	noteNotices(ctx, notices)
	return out, nil
}

func (s sshTasks) Start(ctx context.Context, in RunInput) (RunResult, error) {
	in.Host = ""
	wait := 0.0
	if in.WaitSeconds != nil {
		wait = *in.WaitSeconds
	}
	// Its record routes every later call about the task there; learn
	// needs it, so it comes after.
	r, err := callThere[RunResult](ctx, s.a, s.host, RunTool(), in, wait)
	if err != nil {
		return r, err
	}
	rec := remote.Record{ID: r.TaskID, Host: s.host, Label: r.Label, Command: in.Command, Cwd: r.Cwd,
		StartedAt: s.a.Now().UTC(), Status: r.Status, ExitCode: r.ExitCode, Notify: in.Notify}
	if rec.Cwd == "" {
		rec.Cwd = in.Cwd
	}
	if err := remote.RecordsIn(s.a.Store.Dir).Put(rec); err != nil {
		return RunResult{}, fmt.Errorf("%w; the task %s runs on %s", err, r.TaskID, s.host)
	}
	s.a.learn(ctx, rec.ID, r.Status, r.ExitCode)
	// "Started "api" on devbox as task-…" / "Started task-… on devbox (pid …)".
	if labelled := fmt.Sprintf("Started %q as ", r.Label); strings.HasPrefix(r.Message, labelled) {
		r.Message = fmt.Sprintf("Started %q on %s as ", r.Label, s.host) + r.Message[len(labelled):]
	} else {
		r.Message = strings.Replace(r.Message, " (pid ", " on "+s.host+" (pid ", 1)
	}
	return r, nil
}

func (s sshTasks) Status(ctx context.Context, in StatusInput) (TaskDetail, error) {
	return callThere[TaskDetail](ctx, s.a, s.host, StatusTool(), in, in.WaitSeconds)
}

// List lists the tasks this machine started there (others' are left
// out), and forgets here those gone there (cleaned up there).
func (s sshTasks) List(ctx context.Context, in StatusInput) (StatusList, error) {
	l, err := s.listThere(ctx, StatusInput{All: true})
	if err != nil {
		return l, err
	}
	recs := remote.RecordsIn(s.a.Store.Dir)
	mine := map[string]bool{}
	for _, r := range recs.List() {
		if r.Host == s.host {
			mine[r.ID] = true
		}
	}
	out := StatusList{Tasks: []TaskSummary{}}
	for _, t := range l.Tasks {
		if !mine[t.TaskID] {
			continue // Started there by someone else.
		}
		delete(mine, t.TaskID)
		s.a.learn(ctx, t.TaskID, t.Status, nil)
		out.Summary.Total++
		if t.Status == supervisor.StatusRunning {
			out.Summary.Running++
		}
		out.Tasks = append(out.Tasks, t)
	}
	for id := range mine {
		_ = recs.Remove(id) // Cleaned up there: forget it here.
	}
	return out, nil
}

// listThere is bg_status's list there, every task of it.
func (s sshTasks) listThere(ctx context.Context, in StatusInput) (StatusList, error) {
	return callThere[StatusList](ctx, s.a, s.host, StatusTool(), in, 0)
}

func (s sshTasks) Read(ctx context.Context, in OutputInput) (OutputResult, error) {
	return callThere[OutputResult](ctx, s.a, s.host, OutputTool(), in, in.WaitSeconds)
}

func (s sshTasks) Stop(ctx context.Context, in StopInput) (StopResult, error) {
	return callThere[StopResult](ctx, s.a, s.host, StopTool(), in, 0)
}

// Cleanup removes the task there and its record here. A host that cannot
// be reached keeps the task, but the record here is forgotten (see
// forgetRemote). Without a task id it cleans each task this machine
// started there, by its id, one call each.
func (s sshTasks) Cleanup(ctx context.Context, in StopInput) (CleanupResult, error) {
	if in.TaskID == "" {
		return s.cleanupMine(ctx)
	}
	r, err := callThere[CleanupResult](ctx, s.a, s.host, StopTool(), in, 0)
	if err != nil && s.rec.ID != "" && remote.IsKind(err, remote.KindUnreachable) {
		return s.a.forgetRemote(s.rec, err)
	}
	if err == nil && r.Cleaned > 0 {
		_ = remote.RecordsIn(s.a.Store.Dir).Remove(in.TaskID) // Best effort: a stale record lists as gone.
	}
	return r, err
}

// cleanupMine cleans up, one by one, the tasks this machine started on
// the host; an unreachable host keeps the rest.
func (s sshTasks) cleanupMine(ctx context.Context) (CleanupResult, error) {
	recs := remote.RecordsIn(s.a.Store.Dir)
	var tasks []remote.Record
	for _, r := range recs.List() {
		if r.Host == s.host {
			tasks = append(tasks, r)
		}
	}
	res := CleanupResult{Action: "cleanup"}
	for i, r := range tasks {
		v, err := callThere[CleanupResult](ctx, s.a, s.host, StopTool(), StopInput{TaskID: r.ID, Action: "cleanup"}, 0)
		var unreachable *remote.Error
		switch {
		case errors.As(err, &unreachable):
			res.failed = append(res.failed, fmt.Sprintf("%d task(s) on %s kept: %v", len(tasks)-i, s.host, err))
			return res, nil // The rest of this host's tasks would fail alike.
		case err != nil && strings.Contains(err.Error(), supervisor.ErrNoTask.Error()):
			_ = recs.Remove(r.ID) // Best effort: gone there already.
		case err != nil:
			res.failed = append(res.failed, err.Error())
		case v.Cleaned > 0:
			res.Cleaned++
			_ = recs.Remove(r.ID) // Best effort: a stale record lists as gone.
		default:
			res.running++
		}
	}
	return res, nil
}

func (s sshTasks) Send(ctx context.Context, in SendInput) (SendResult, error) {
	return callThere[SendResult](ctx, s.a, s.host, SendTool(), in, 0)
}

// Restart restarts the task there with the deployed build's own
// `restart` (no tool restarts a task), then asks its status: the same
// task id, the same logs there, the restart counted there.
func (s sshTasks) Restart(ctx context.Context, id string) (RunResult, int, error) {
	if err := taskid.ValidID(id); err != nil {
		return RunResult{}, 0, &InputError{Param: "task_id", Msg: err.Error()}
	}
	d, err := s.a.remoteDeployer()
	if err != nil {
		return RunResult{}, 0, err
	}
	_, errOut, code, err := d.Command(ctx, s.host, "restart", id)
	if err != nil {
		return RunResult{}, 0, err
	}
	if code != 0 {
		msg := strings.TrimSpace(errOut)
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", code)
		}
		return RunResult{}, 0, fmt.Errorf("restart %s on %s: %s", id, s.host, msg)
	}
	t, err := s.Status(ctx, StatusInput{TaskID: id})
	if err != nil {
		return RunResult{}, 0, fmt.Errorf("restarted %s on %s, but its status: %w", id, s.host, err)
	}
	return RunResult{TaskID: t.TaskID, Host: s.host, PID: t.PID, Label: t.Label, Command: t.Command, Cwd: t.Cwd,
		Status: t.Status, TimeoutMinutes: t.TimeoutMinutes}, t.Restarts, nil
}

// RemoteLog prints the log of task id on host as `bgtask logs` prints it
// there, as it comes: the whole log however long (a tool's answer holds
// at most MaxLinesLimit lines and 1 MiB a stream). args are that
// command's flags, plain words only (--raw, --color never, -n 20).
func (a *App) RemoteLog(ctx context.Context, host, id string, stdout, stderr io.Writer, args ...string) error {
	if err := taskid.ValidID(id); err != nil {
		return &InputError{Param: "task_id", Msg: err.Error()}
	}
	d, err := a.remoteDeployer()
	if err != nil {
		return err
	}
	code, err := d.CommandTo(ctx, host, stdout, stderr, append([]string{"logs", id}, args...)...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("bgtask logs %s on %s: exit status %d", id, host, code)
	}
	return nil
}
