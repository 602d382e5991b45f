package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

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
// label (the running task of that label, here or on another host, else
// its newest task).
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
	// The tasks of that label, here and on other hosts (as last known):
	// a label running in two places, here and there alike, is ambiguous,
	// never settled silently for one of them (bgtask stop of the wrong one).
	type match struct {
		id, where string
		running   bool
		started   time.Time
	}
	var all []match
	for _, t := range tasks {
		if t.Label == ref {
			all = append(all, match{t.ID, "in " + t.Cwd, t.Status == supervisor.StatusRunning, t.StartedAt})
		}
	}
	for _, r := range recs.List() {
		if r.Label == ref {
			all = append(all, match{r.ID, "on " + r.Host, r.Status == supervisor.StatusRunning, r.StartedAt})
		}
	}
	var running []match
	for _, m := range all {
		if m.running {
			running = append(running, m)
		}
	}
	switch {
	case len(running) == 1:
		return running[0].id, nil
	case len(running) > 1:
		var ids []string
		for _, m := range running {
			ids = append(ids, m.id+" ("+m.where+")")
		}
		return "", fmt.Errorf("label %q is ambiguous: %d tasks of that label run: %s; give an id", ref, len(running), strings.Join(ids, ", "))
	case len(all) > 0:
		newest := all[0]
		for _, m := range all[1:] {
			if !m.started.Before(newest.started) {
				newest = m
			}
		}
		return newest.id, nil
	}
	return "", fmt.Errorf("no task has the id or label %q (bgtask ls lists them)", ref)
}
