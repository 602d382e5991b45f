package toolbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// SaveFileName is the file `bgtask save` writes.
const SaveFileName = "process-compose.yaml"

// Save writes the tasks running in dir or below it as a
// process-compose.yaml in dir that Up starts again: each task a process
// named by its label, with its command, folder (relative to dir) and
// restart policy. Environment variables are not recorded by tasks, so
// none are written. It refuses to replace an existing file unless force.
// It returns the file and the names written.
func (a *App) Save(ctx context.Context, dir string, force bool) (string, []string, error) {
	dir, err := a.resolveCwd(dir)
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, SaveFileName)
	if _, err := os.Stat(path); err == nil && !force {
		return "", nil, fmt.Errorf("%s exists: pass --force to replace it", path)
	}
	tasks, err := a.Store.List()
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `bgtask save` from the tasks running in this folder;\n# `bgtask up` starts them again. See docs/stacks.md for the keys.\nversion: \"0.5\"\nprocesses:\n")
	var names []string
	for _, t := range tasks {
		rel, err := filepath.Rel(dir, t.Cwd)
		if t.Status != supervisor.StatusRunning || err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		if cur, err := a.Store.Settle(ctx, t); err != nil || cur.Status != supervisor.StatusRunning {
			continue
		}
		name := saveName(t, len(names)+1)
		for slices.Contains(names, name) {
			name += "-2"
		}
		names = append(names, name)
		fmt.Fprintf(&b, "  %s:\n    command: %s\n", name, yamlQuote(t.Command))
		if rel != "." {
			fmt.Fprintf(&b, "    working_dir: %s\n", yamlQuote(rel))
		}
		if p := t.Restart; p.Policy != supervisor.RestartNo {
			fmt.Fprintf(&b, "    availability:\n      restart: %s\n      max_restarts: %d\n      backoff_seconds: %g\n", p.Policy, p.Max, p.Backoff.Seconds())
		}
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("no task runs in %s or below it: nothing to save", dir)
	}
	if err := atomicfile.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", nil, err
	}
	return path, names, nil
}

// saveName is a task's process name in a saved file: its label where
// that is a valid name, else the label with other characters as -, else
// task-N.
func saveName(t *supervisor.Task, n int) string {
	if t.Label != t.ID && stack.ValidName(t.Label) {
		return t.Label
	}
	if t.Label != t.ID {
		name := strings.Map(func(r rune) rune {
			if stack.ValidName(string(r)) {
				return r
			}
			return '-'
		}, t.Label)
		if stack.ValidName(name) {
			return name
		}
	}
	return fmt.Sprintf("task-%d", n)
}

// yamlQuote is s as a YAML double-quoted scalar: JSON's string syntax is
// YAML's, so no YAML library is linked for it.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
