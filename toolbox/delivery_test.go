package toolbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// failingWriter is a stdout whose reader is gone.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// An answer that cannot be delivered moves no cursor: over the toolbox
// protocol when stdout fails, and for a caller over ssh that is gone
// before it says it has the answer. One that says so keeps the move.
func TestUndeliveredAnswerKeepsTheCursor(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "AMP_THREAD_ID=", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID=")
	r := startTask(t, a, map[string]any{"command": "echo one; echo two"})
	waitEnd(t, a, r.TaskID)
	params := fmt.Sprintf(`{"task_id":%q,"stream":"stdout"}`, r.TaskID)
	serve := func(stdin string, stdout interface{ Write([]byte) (int, error) }, env ...string) {
		t.Helper()
		b := *a
		b.Getenv = EnvGetter(append(append([]string{}, a.Environ...), env...))
		b.Stdin, b.Stdout = strings.NewReader(stdin), stdout
		b.ServeToolbox(t.Context(), OutputTool(), "execute")
	}
	next := func() string {
		t.Helper()
		return deref(call[OutputResult](t, a, OutputTool(), params).Stdout)
	}
	serve(params, failingWriter{})
	if got := next(); got != "one\ntwo" {
		t.Errorf("after an answer nobody got (stdout failed): %q, want the lines again", got)
	}
	write("three", r, a, t)
	var out bytes.Buffer
	serve(params+"\n", &out, remote.CallerEnv+"="+remote.CallerSSH) // stdin ends: no ack.
	if !strings.Contains(out.String(), "three") {
		t.Fatalf("the answer over ssh: %s", out.String())
	}
	if got := next(); got != "three" {
		t.Errorf("after an answer over ssh that was never acknowledged: %q, want the line again", got)
	}
	write("four", r, a, t)
	out.Reset()
	serve(params+"\n"+remote.CallAck+"\n", &out, remote.CallerEnv+"="+remote.CallerSSH)
	if got := next(); !strings.Contains(out.String(), "four") || got != "" {
		t.Errorf("after an acknowledged answer (%s), the next read: %q, want nothing new", out.String(), got)
	}
}

// write appends a line to the ended task's stdout, as more output.
func write(line string, r RunResult, a *App, t *testing.T) {
	t.Helper()
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(task.Dir, "stdout"), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}
