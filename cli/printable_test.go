package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// A label or command that reached the records some other way (an earlier
// version, a script) is printed escaped: no byte of an escape sequence
// reaches the terminal.
func TestListEscapesUnprintable(t *testing.T) {
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": "echo hi", "label": "web"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	evil := "web\x1b]52;c;ZXZpbA==\x07\x00"
	for name, v := range map[string]string{"label": evil, "command": "echo \x1b]0;title\x07"} {
		if err := os.WriteFile(filepath.Join(a.Store.Dir, r.TaskID, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"ls"}, {"status", r.TaskID}} {
		out, _, code := runCLI(t, a, args...)
		if code != toolbox.ExitOK || strings.ContainsAny(out, "\x1b\x07\x00") || !strings.Contains(out, `web\x1b]52;c;ZXZpbA==\a`) {
			t.Errorf("bgtask %v printed %q", args, out)
		}
	}
}

// What stop says about a task shows its label escaped too (restart
// refuses such a label, as bg_run does).
func TestStopEscapesUnprintable(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("hang"), "label": "web"})
	evil := "web\x1b]52;c;ZXZpbA==\x07\x00"
	if err := os.WriteFile(filepath.Join(a.Store.Dir, r.TaskID, "label"), []byte(evil+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, a, "stop", r.TaskID)
	if code != toolbox.ExitOK || strings.ContainsAny(out+errOut, "\x1b\x07\x00") || !strings.Contains(out, `web\x1b]52;c;ZXZpbA==\a`) || !strings.Contains(errOut, `web\x1b]52;c;ZXZpbA==\a`) {
		t.Errorf("bgtask stop printed %q, %q", out, errOut)
	}
}
