package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The human CLI: every bad invocation exits non-zero with a message on
// stderr, prints nothing on stdout, and changes nothing.
func TestCLIBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	done := toolboxtest.StartTask(t, a, map[string]any{"command": "true"})
	tasktest.WaitEnd(t, a.Store, done.TaskID)
	for _, args := range [][]string{
		{"explode"},
		{"run"},
		{"run", "--timeout", "abc", "--", "true"},
		{"run", "--timeout", "-1", "--", "true"},
		{"run", "--timeout", "99999999", "--", "true"},
		{"run", "--cwd", "/does/not/exist", "--", "true"},
		{"status", "a", "b"},
		{"stop"},
		{"stop", "--all", "x"},
		{"rm", "--all", "x"},
		{"run", "--wait-port", "70000", "--", "true"},
		{"run", "--notify", "sometimes", "--", "true"},
		{"run", "--wait-url", "ftp://x", "--", "true"},
		{"logs", done.TaskID, "-f", "--since"},
		{"send", done.TaskID, "--key", "f13"},
		{"status", "nope"},
		{"status", "task-1-nosuch"},
		{"stop", "../../etc"},
		{"stop", "task-1-nosuch"},
		{"logs"},
		{"logs", done.TaskID, "--stream", "stdin"},
		{"logs", "task-1-nosuch"},
		{"reap", "--max-age", "-5"},
		{"reap", "extra"},
		{"reap", "--max-age", "soon"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			before := tasktest.SnapshotDir(t, a.Store.Dir)
			var stdout, stderr bytes.Buffer
			a.Stdout, a.Stderr = &stdout, &stderr
			if code := Run(t.Context(), a, "bgtask", args); code != toolbox.ExitError {
				t.Fatalf("exit %d, want %d", code, toolbox.ExitError)
			}
			if stderr.Len() == 0 || stdout.Len() != 0 {
				t.Fatalf("stdout %q, stderr %q; want only a message on stderr", stdout.String(), stderr.String())
			}
			if after := tasktest.SnapshotDir(t, a.Store.Dir); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
