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

func TestCLISend(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"command": `read ans; echo "got $ans"`, "interactive": true})
	var out, errOut strings.Builder
	a.Stdout, a.Stderr = &out, &errOut
	if code := Run(t.Context(), a, "bgtask", []string{"send", r.TaskID, "hello", "there"}); code != toolbox.ExitOK {
		t.Fatalf("send: exit %d: %s", code, errOut.String())
	}
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	if b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout")); !strings.Contains(string(b), "got hello there") {
		t.Fatalf("stdout %q", b)
	}
}

// A printed command names a task so that it can be pasted back: the label
// as one shell word, the id where the label would be read as an option.
func TestHintRef(t *testing.T) {
	t.Parallel()
	const id = "task-1796633149-2df1dbcc"
	for _, c := range []struct{ label, want string }{
		{"web", "web"},
		{"héllo wörld 🚀", "'héllo wörld 🚀'"},
		{"it's", `'it'\''s'`},
		{"-n", id},
		{"web\x1b]52;c;ZXZpbA==\a", id},
		{"tab\there", id},
		{"--all", id},
		{id, id},
		{"", id},
	} {
		if got := hintRef(c.label, id); got != c.want {
			t.Errorf("hintRef(%q) = %s, want %s", c.label, got, c.want)
		}
	}
}
