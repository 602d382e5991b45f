package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// oneTask parses a command line naming one task, by id or label, and
// returns its id.
func oneTask(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) (string, error) {
	ref, err := oneID(fs, args)
	if err != nil {
		return "", err
	}
	return resolveRef(ctx, a, ref)
}

// oneID parses a command line of flags and one argument, in any order.
func oneID(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseMixed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", ErrUsage
	}
	return pos[0], nil
}

// resolveRef turns what a person typed into a task id: an id, or a
// label (the running task of that label, else its newest task).
func resolveRef(ctx context.Context, a *toolbox.App, ref string) (string, error) {
	recs := remote.RecordsIn(a.Store.Dir)
	if _, ok := recs.Get(ref); ok {
		return ref, nil
	}
	if taskid.ValidID(ref) == nil {
		if _, err := a.Store.Load(ref); !errors.Is(err, supervisor.ErrNoTask) {
			return ref, nil // Or an error reading it, which the command reports.
		}
	}
	tasks, err := a.Store.List()
	if err != nil {
		return "", err
	}
	var running, all []*supervisor.Task
	for _, t := range tasks {
		if t.Label != ref {
			continue
		}
		all = append(all, t)
		if t.Status == supervisor.StatusRunning {
			running = append(running, t)
		}
	}
	switch {
	case len(running) == 1:
		return running[0].ID, nil
	case len(running) > 1:
		var ids []string
		for _, t := range running {
			ids = append(ids, t.ID+" (in "+t.Cwd+")")
		}
		return "", fmt.Errorf("label %q is ambiguous: %d tasks of that label run: %s; give an id", ref, len(running), strings.Join(ids, ", "))
	case len(all) > 0:
		return all[len(all)-1].ID, nil // List is oldest first.
	}
	// Tasks on other hosts, as last known: the running one, else the newest.
	var found *remote.Record
	for _, r := range recs.List() { // Oldest first: a later one is newer.
		if r.Label == ref && (found == nil || found.Status != supervisor.StatusRunning || r.Status == supervisor.StatusRunning) {
			found = &r
		}
	}
	if found != nil {
		return found.ID, nil
	}
	return "", fmt.Errorf("no task has the id or label %q (bgtask ls lists them)", ref)
}
