package toolbox

import (
	"context"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Reap is the reaper's work (bgtask reap, bg-reaper on every shell
// start): it kills the tasks nobody supervises and those past their
// timeout, and removes the finished tasks that ended more than maxAge ago
// (see supervisor.Store.Reap); with dryRun it only says what it would do.
// Each action is returned, its failure in its Err. No supervisor is left
// to tell the user of a task it ended, so it does: a notification that
// fails (routinely, on a machine without a desktop) is a warning, not a
// failed reap.
func (a *App) Reap(ctx context.Context, maxAge time.Duration, dryRun bool) (actions []supervisor.ReapAction, warnings []error, err error) {
	settings, err := a.Settings()
	if err != nil {
		return nil, nil, err
	}
	actions, err = a.Store.Reap(ctx, supervisor.ReapOptions{MaxAge: maxAge, DryRun: dryRun, Grace: settings.KillGrace, Now: a.Now})
	if dryRun {
		return actions, nil, err
	}
	for _, act := range actions {
		if act.Err != nil {
			continue
		}
		var werr error
		switch act.Action {
		case supervisor.ActionReap:
			werr = a.NotifyEnd(ctx, act.Task)
		case supervisor.ActionDead:
			werr = a.notifyFoundDead(ctx, act.Task)
		}
		if werr != nil {
			warnings = append(warnings, werr)
		}
	}
	return actions, warnings, err
}
