package toolbox

import (
	"context"
	"fmt"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Restart runs the command of task id again under the same id, into the
// same logs (see supervisor.Store.Restart): a running one through its
// supervisor, an ended one with a new supervisor. restarts is how many
// times the task has been restarted, this one included.
func (a *App) Restart(ctx context.Context, id string) (r RunResult, restarts int, err error) {
	return a.tasksOf(id).Restart(ctx, id)
}

func (a *App) restartHere(ctx context.Context, id string) (r RunResult, restarts int, err error) {
	old, err := a.LoadTask(ctx, id)
	if err != nil {
		return RunResult{}, 0, err
	}
	settings, err := a.Settings()
	if err != nil {
		return RunResult{}, 0, err
	}
	t, err := a.Store.Restart(ctx, old, supervisor.RestartRequest{Executable: a.supervisorExecutable(), Env: a.Environ, Grace: settings.KillGrace})
	if err != nil {
		return RunResult{}, 0, fmt.Errorf("restart %s: %w", old.ID, err)
	}
	return RunResult{TaskID: t.ID, PID: t.Root.PID, Label: t.Label, Command: t.Command, Cwd: t.Cwd, Status: t.Status,
		TimeoutMinutes: t.Timeout.Minutes()}, t.Restarts, nil
}
