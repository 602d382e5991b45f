package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// TestSupervisorGoneIsSaid: a running task whose supervisor was killed
// shows supervisor: gone, with what it means, in bg_status (one task and
// the list) and bg_output, and bg_stop still ends it.
func TestSupervisorGoneIsSaid(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	// SIGHUP ignored: the supervisor's terminals close with it.
	r := startTask(t, a, map[string]any{"command": `trap '' HUP; echo up; exec sleep 60`})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if err := procs.Signal(task.Watchdog, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the supervisor to die", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if d.Status != supervisor.StatusRunning || !strings.HasPrefix(d.Supervisor, "gone: ") || !strings.Contains(d.Supervisor, "bg_stop task_id="+r.TaskID) {
		t.Fatalf("status %s, supervisor %q", d.Status, d.Supervisor)
	}
	list := call[StatusList](t, a, StatusTool(), `{}`)
	if len(list.Tasks) != 1 || !strings.HasPrefix(list.Tasks[0].Supervisor, "gone: ") {
		t.Fatalf("the list does not say the supervisor is gone: %+v", list.Tasks)
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if !strings.Contains(out.Message, "supervisor: gone") {
		t.Fatalf("bg_output does not say the supervisor is gone: %+v", out)
	}
	if s := call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID)); s.Status != supervisor.StatusKilled {
		t.Fatalf("stop: %+v", s)
	}
}

// TestCorruptRecordFieldIsUnknown: one record file holding no valid value
// (timeout NaN, a pid that is no number) costs that field, said in the
// answers, never the task: it stays listed, readable and stoppable.
func TestCorruptRecordFieldIsUnknown(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `echo hello; exec sleep 60`, "timeout": 5})
	tasktest.WaitFor(t, "its output", func() bool {
		b, _ := os.ReadFile(filepath.Join(a.Store.Dir, r.TaskID, "stdout"))
		return strings.Contains(string(b), "hello")
	})
	for name, v := range map[string]string{"timeout": "NaN", "restarts": "many"} {
		if err := os.WriteFile(filepath.Join(a.Store.Dir, r.TaskID, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if got := strings.Join(d.RecordUnreadable, "; "); !strings.Contains(got, `timeout: "NaN"`) || !strings.Contains(got, `restarts: "many"`) {
		t.Fatalf("record_unreadable %q", d.RecordUnreadable)
	}
	if list := call[StatusList](t, a, StatusTool(), `{}`); len(list.Tasks) != 1 {
		t.Fatalf("list: %+v", list)
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"since":false}`, r.TaskID))
	if out.Stdout == nil || !strings.Contains(*out.Stdout, "hello") || !strings.Contains(out.Message, "timeout") {
		t.Fatalf("output: %+v", out)
	}
	if s := call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID)); s.Status != supervisor.StatusKilled {
		t.Fatalf("stop: %+v", s)
	}
}
