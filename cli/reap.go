package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// defaultReapMaxAge is bg-reaper's --max-age in minutes (the call
// client, cmd/bgtask-call, reads the same).
const defaultReapMaxAge = reaplist.DefaultMaxAgeMinutes

// cliReap is `bgtask reap` and `bg-reaper`: run on every shell start, it
// prints one line per action and nothing when there is nothing to do.
func cliReap(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	maxAge := fs.Float64("max-age", defaultReapMaxAge, "minutes: remove finished tasks that ended earlier, and kill tasks nobody supervises (their supervisor is gone) that started earlier; "+
		"0 removes every finished task now, ended a second ago too, and kills every unsupervised one. "+
		"A supervised task follows its own timeout (timeout 0: never reaped); the reaper kills it only when its supervisor let it run past its timeout")
	dryRun := fs.Bool("dry-run", false, "print what would be done (Would kill: / Would clean:) and change nothing")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return ErrUsage
	}
	if !(*maxAge >= 0) { // NaN too.
		return fmt.Errorf("--max-age must be at least 0 minutes, got %g", *maxAge)
	}
	actions, warnings, err := a.Reap(ctx, supervisor.Minutes(*maxAge), *dryRun)
	var errs []error
	for _, act := range actions {
		if act.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", act.Action, act.Task.ID, act.Err))
		} else if !*quiet {
			fmt.Fprintln(a.Stdout, reapLine(act, *dryRun))
		}
	}
	for _, w := range warnings {
		if !*quiet {
			fmt.Fprintln(a.Stderr, "warning:", w)
		}
	}
	return errors.Join(append(errs, err)...)
}

// reapFormats says an action, done and in a dry run.
func reapFormats(action string) (done, dry string) {
	switch action {
	case supervisor.ActionDead:
		return "Marked %s killed: %s", "Would mark killed: %s: %s"
	case supervisor.ActionClean:
		return "Cleaned %s: %s", "Would clean: %s: %s"
	default: // ActionKill, ActionReap
		return "Reaped %s: %s", "Would kill: %s: %s"
	}
}

func reapLine(act supervisor.ReapAction, dryRun bool) string {
	format, dry := reapFormats(act.Action)
	if dryRun {
		format = dry
	}
	return fmt.Sprintf(format, fmt.Sprintf("%s (%s)", act.Task.ID, toolbox.Printable(act.Task.Label)), act.Why)
}
