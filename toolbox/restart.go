package toolbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Restart stops the task id, if it runs, and starts its command again
// with the same label, folder, timeout and modes, in its place: the old
// record goes and the new task counts the restart. A record that cannot
// be removed is reported on a.Stderr; the new task runs all the same.
// restarts is how many times the task has been restarted, this one
// included.
func (a *App) Restart(ctx context.Context, id string) (r RunResult, restarts int, err error) {
	old, err := a.LoadTask(ctx, id)
	if err != nil {
		return RunResult{}, 0, err
	}
	if old.Command == "" {
		return RunResult{}, 0, fmt.Errorf("%s records no command to run again", old.ID)
	}
	params := map[string]any{"command": old.Command, "label": old.Label, "cwd": old.Cwd,
		"timeout": old.TimeoutMinutes, "replace": true, "interactive": old.Interactive}
	if old.Notify != "" {
		params["notify"] = old.Notify
	}
	in, err := BindParams[RunInput](RunTool(), params)
	if err != nil {
		return RunResult{}, 0, err
	}
	if old.Label == old.ID {
		in.Label = "" // No label of its own: the new task is named by its new id.
		if old.Status == supervisor.StatusRunning {
			settings, err := a.Settings()
			if err != nil {
				return RunResult{}, 0, err
			}
			if _, err := a.Store.Stop(ctx, old, settings.KillGrace); err != nil {
				return RunResult{}, 0, fmt.Errorf("stop %s: %w", old.ID, err)
			}
		}
	}
	restarts = old.Restarts + 1
	r, err = a.StartRun(ctx, in, restarts)
	if err != nil {
		return RunResult{}, 0, err
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
	return r, restarts, nil
}
