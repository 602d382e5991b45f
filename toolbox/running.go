package toolbox

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// No duplicate servers: an agent that forgot its dev server must not
// start a second one that dies of "address already in use".

// startUnique starts r unless a task with its label runs in its cwd:
// then it refuses, or with replace stops that task first. The check and
// the start hold the label's lock, so of parallel starts of one label in
// one cwd exactly one runs (replace or not).
func (a *App) startUnique(ctx context.Context, replace bool, r supervisor.Request) (*supervisor.Task, error) {
	if r.Label != "" {
		unlock, err := a.Store.LockLabel(r.Label, samePlace(r.Cwd))
		if err != nil {
			return nil, err
		}
		defer unlock()
		if old := a.runningWithLabel(ctx, r.Label, r.Cwd); old != nil {
			if !replace {
				return nil, a.duplicateError(ctx, old)
			}
			settings, err := a.Settings()
			if err != nil {
				return nil, err
			}
			noteEndedByCaller(ctx, old.ID)
			if _, err := a.Store.Stop(ctx, old, settings.KillGrace); err != nil {
				return nil, fmt.Errorf("replace %s: %w", old.ID, err)
			}
		}
	}
	return a.Store.Start(ctx, r)
}

// samePlace is the folder path names: with symbolic links resolved, so
// that a project reached by two paths (a symlinked home, macOS's /tmp and
// /private/tmp, an editor's physical path beside a shell's) is one place;
// path itself when it cannot be resolved.
func samePlace(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

// runningTasks loads the tasks whose status says they run, oldest
// first: from a listing (Store.Refs), which knows the ended ones from the
// ended index, rather than every task's record. (bg_run with a label
// read all of them: 52 ms in a store of 1,000 ended tasks on the test
// VM.) A listing of its own, not the call's (refs): bg_run asks under
// its label's lock, and must see a task that a parallel bg_run of the
// label started after the call's listing. Whether each still runs is
// the caller's to settle.
func (a *App) runningTasks() ([]*supervisor.Task, error) {
	refs, err := a.Store.Refs()
	if err != nil {
		return nil, err
	}
	var out []*supervisor.Task
	for _, r := range refs {
		if r.Status != supervisor.StatusRunning {
			continue
		}
		if t, err := a.Store.Load(r.ID); err == nil {
			out = append(out, t)
		} // Else removed meanwhile.
	}
	return out, nil
}

// runningWithLabel returns the running task started with label in cwd,
// by whatever path it was given.
func (a *App) runningWithLabel(ctx context.Context, label, cwd string) *supervisor.Task {
	tasks, err := a.runningTasks()
	if err != nil {
		return nil
	}
	place := samePlace(cwd)
	for _, t := range tasks {
		if t.Label != label || t.Status != supervisor.StatusRunning || t.Cwd != cwd && samePlace(t.Cwd) != place {
			continue
		}
		if t, err := a.Store.Settle(ctx, t); err == nil && t.Status == supervisor.StatusRunning {
			return t
		}
	}
	return nil
}

// duplicateError describes the running task a new one would duplicate.
func (a *App) duplicateError(ctx context.Context, t *supervisor.Task) error {
	what := fmt.Sprintf("%q is already running as %s (pid %d, for %s", t.Label, t.ID, t.Root.PID, FormatDuration(a.Now().Sub(t.StartedAt)))
	if ports := a.listening(ctx, t); len(ports) > 0 {
		what += ", listening on " + strings.Join(ports, ", ")
	}
	return &LabelTakenError{
		InputError: InputError{Param: "label", Msg: what + "): use it (bg_output task_id=" + t.ID + "), or pass replace=true to stop it and start this one"},
		What:       what + ")",
	}
}

// LabelTakenError is bg_run's refusal of a duplicate; the CLI words its
// advice for people (--replace) from what.
type LabelTakenError struct {
	InputError
	What string // "\"web\" is already running as ... (pid 12, for 3m)"
}

func (e *LabelTakenError) Unwrap() error { return &e.InputError }

func (a *App) listening(ctx context.Context, t *supervisor.Task) []string {
	tree, err := procs.TaskTree(ctx, t.Root, t.ID)
	if err != nil {
		return nil
	}
	u, err := procs.TreeUsage(ctx, tree)
	if err != nil {
		return nil
	}
	return u.Listening
}

// inUse finds the port of an "address already in use" error in lines.
var inUse = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(?:eaddrinuse|address already in use).*?(?::|port )(\d{2,5})\b|(?:port|:)(\d{2,5})\b.*(?:eaddrinuse|address already in use|already in use)`)
})

// inUseBare is the same error without a port (Python's "OSError: [Errno
// 98] Address already in use").
var inUseBare = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)eaddrinuse|address already in use`)
})

// portHint names the running task of ours that holds the port a crashed
// task could not bind, "" when none does. The port is the one the error
// names, or when it names none, one of guesses (the ports the run waited
// for or its command mentions).
func (a *App) portHint(ctx context.Context, self string, guesses []int, lines ...*string) string {
	for _, l := range lines {
		if l == nil {
			continue
		}
		ports := guesses
		if m := inUse().FindStringSubmatch(*l); m != nil {
			port, _ := strconv.Atoi(m[1] + m[2])
			ports = []int{port}
		} else if !inUseBare().MatchString(*l) {
			continue
		}
		tasks, err := a.runningTasks()
		if err != nil {
			return ""
		}
		for _, t := range tasks {
			if t.ID == self || t.Status != supervisor.StatusRunning {
				continue
			}
			for _, addr := range a.listening(ctx, t) {
				for _, port := range ports {
					if strings.HasSuffix(addr, ":"+strconv.Itoa(port)) {
						return fmt.Sprintf(" Port %d is held by your task %q (%s): use it, or bg_run again with label=%q replace=true.", port, t.Label, t.ID, t.Label)
					}
				}
			}
		}
	}
	return ""
}
