package toolbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

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

	running int      // kept, as they run
	failed  []string // why each one not removed was not
}

// runBgStop answers a CleanupResult for action=cleanup, else a StopResult.
func runBgStop(ctx context.Context, a *App, in StopInput) (any, error) {
	switch {
	case in.Action == "cleanup" && in.TaskID == "":
		return a.cleanupEverywhere(ctx, in)
	case in.Action == "cleanup":
		return a.tasksOf(in.TaskID).Cleanup(ctx, in)
	}
	return a.tasksOf(in.TaskID).Stop(ctx, in)
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
	noteEndedByCaller(ctx, t.ID)
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

// cleanupTasks is bg_stop's cleanup here: of one task with a task_id,
// else of every finished one (cleanupEverywhere adds the other hosts).
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
	res.running, res.failed = running, failed
	if len(failed) > 0 && res.Cleaned == 0 && id != "" {
		return res, errors.New(failed[0])
	}
	res.Message = res.describe()
	return res, nil
}

// describe words a cleanup's counts.
func (r CleanupResult) describe() string {
	msg := fmt.Sprintf("Removed %d finished task(s); %d running task(s) kept.", r.Cleaned, r.running)
	if len(r.failed) > 0 {
		msg += fmt.Sprintf(" Could not remove %d: %s.", len(r.failed), strings.Join(r.failed, "; "))
	}
	return msg
}

// cleanupEverywhere is bg_stop's cleanup without a task_id: every
// finished task here, and on each other host those started from here
// (never what others started there), the hosts asked at once.
func (a *App) cleanupEverywhere(ctx context.Context, in StopInput) (CleanupResult, error) {
	res, err := localTasks{a}.Cleanup(ctx, in)
	if err != nil {
		return res, err
	}
	hosts, byHost := groupByHost(remote.RecordsIn(a.Store.Dir).List())
	for _, r := range eachHost(ctx, hosts, cleanupHostTimeout, func(ctx context.Context, host string) CleanupResult {
		if d, down := a.downHost(host); down {
			return CleanupResult{failed: []string{fmt.Sprintf("%d task(s) on %s kept: %v", len(byHost[host]), host, a.downError(d))}}
		}
		r, _ := sshTasks{a: a, host: host}.Cleanup(ctx, in) // Its failures are in r.failed.
		return r
	}) {
		res.Cleaned += r.Cleaned
		res.running += r.running
		res.failed = append(res.failed, r.failed...)
	}
	res.Message = res.describe()
	return res, nil
}
