package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliStop stops tasks: those named, or with --all every running one.
func cliStop(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	all := fs.Bool("all", false, "stop every running task")
	pf := declareParams(fs, toolbox.StopTool(), "task_id")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if *all == (len(pos) > 0) {
		return ErrUsage
	}
	if action, _ := pf.params()["action"].(string); action == "cleanup" {
		// bg_stop's cleanup is bgtask rm (--action kill is what stop does).
		if *all {
			return removeAll(ctx, a, pf)
		}
		return cliRemove(ctx, a, pf, pos)
	}
	var ids, running []string // running: the labels of those running, for the message
	if *all {
		// The list bg_status gives: the tasks started from here on other
		// hosts are stopped too.
		l, err := toolbox.Invoke[toolbox.StatusList](ctx, a, toolbox.StatusTool(), map[string]any{"all": true})
		if err != nil {
			return err
		}
		for _, t := range l.Tasks {
			if t.Status == supervisor.StatusRunning {
				ids, running = append(ids, t.TaskID), append(running, toolbox.Printable(t.Label))
			}
		}
		if len(ids) == 0 {
			fmt.Fprintln(a.Stdout, "No task is running.")
			return nil
		}
	}
	for _, ref := range pos {
		id, err := resolveRef(ctx, a, ref)
		if err != nil {
			return err
		}
		ids = append(ids, id)
		if t, err := a.LoadTask(ctx, id); err == nil && t.Status == supervisor.StatusRunning {
			running = append(running, toolbox.Printable(t.Label))
		}
	}
	// A stop can take the whole grace period: say so before it starts.
	settings, err := a.Settings()
	if err != nil {
		return err
	}
	grace := settings.KillGrace
	switch len(running) {
	case 0:
	case 1:
		fmt.Fprintf(a.Stderr, "Stopping %s: SIGTERM to its processes, SIGKILL to those still running after %s...\n", running[0], toolbox.FormatDuration(grace))
	default:
		fmt.Fprintf(a.Stderr, "Stopping %d tasks (%s): SIGTERM to their processes, SIGKILL to those still running after %s...\n",
			len(running), strings.Join(running, ", "), toolbox.FormatDuration(grace))
	}
	// In parallel: ten tasks take one grace period, not ten.
	results := make([]toolbox.StopResult, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = toolbox.Invoke[toolbox.StopResult](ctx, a, pf.tool, map[string]any{"task_id": id})
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] == nil {
			fmt.Fprintln(a.Stdout, toolbox.Printable(results[i].Message))
		}
	}
	return errors.Join(errs...)
}
