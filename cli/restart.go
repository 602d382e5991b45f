package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliRestart runs a task's command again under the same id, into the
// same logs (see App.Restart).
func cliRestart(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	id, err := oneTask(ctx, a, fs, args)
	if err != nil {
		return err
	}
	r, n, err := a.Restart(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.TaskID)
	fmt.Fprintf(a.Stderr, "Restarted %s as %s (pid %d, restart %d), the same id. Follow it with: bgtask logs %s -f\n", r.Label, r.TaskID, r.PID, n, r.Label)
	return nil
}
