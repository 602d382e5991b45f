package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliRm removes finished tasks' records and logs: those named, or with
// --all every finished one.
func cliRm(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	all := fs.Bool("all", false, "remove every finished task (running ones are kept)")
	pf := declareParams(fs, toolbox.StopTool(), "task_id", "action")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if *all == (len(pos) > 0) {
		return ErrUsage
	}
	if *all {
		return removeAll(ctx, a, pf)
	}
	return cliRemove(ctx, a, pf, pos)
}

// removeAll removes every finished task: bg_stop's cleanup without an id.
func removeAll(ctx context.Context, a *toolbox.App, pf *paramFlags) error {
	r, err := toolbox.Invoke[toolbox.CleanupResult](ctx, a, pf.tool, map[string]any{"action": "cleanup"})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.Message)
	return nil
}

// cliRemove removes the finished tasks refs name.
func cliRemove(ctx context.Context, a *toolbox.App, pf *paramFlags, refs []string) error {
	for _, ref := range refs {
		id, err := resolveRef(ctx, a, ref)
		if err != nil {
			return err
		}
		r, err := toolbox.Invoke[toolbox.CleanupResult](ctx, a, pf.tool, map[string]any{"task_id": id, "action": "cleanup"})
		if err != nil {
			return err
		}
		if r.Cleaned == 0 {
			return fmt.Errorf("%s is still running: stop it first (bgtask stop %s)", id, ref)
		}
		if strings.HasPrefix(r.Message, toolbox.ForgotPrefix) {
			fmt.Fprintln(a.Stderr, r.Message) // Its host is down: only forgotten here.
		}
		fmt.Fprintf(a.Stdout, "Removed %s\n", id)
	}
	return nil
}
