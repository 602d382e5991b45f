package toolbox

import (
	"fmt"
	"slices"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

func TestStatusShowsPortsAndProcesses(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	addr, port := freeAddr(t)
	r := startTask(t, a, map[string]any{"command": "sleep 60 & " + helpers.Shell("serve", addr, "0s"), "wait_port": port})
	if r.WaitResult == nil || !r.Ready {
		t.Fatalf("server not ready: %+v", r)
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if !slices.Contains(d.Listening, addr) || d.Processes < 2 || d.RSS == "" || d.QuietFor == "" {
		t.Fatalf("detail of a two-process server: listening %v, processes %d, rss %q, quiet %q", d.Listening, d.Processes, d.RSS, d.QuietFor)
	}
	l := call[StatusList](t, a, StatusTool(), `{}`)
	if len(l.Tasks) != 1 || !slices.Contains(l.Tasks[0].Listening, addr) {
		t.Fatalf("the list does not show the port: %+v", l.Tasks)
	}
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
}

func TestStatusListIsBoundedAndStatusWaits(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for i := 0; i < 13; i++ {
		r := startTask(t, a, map[string]any{"command": "true", "label": fmt.Sprintf("old-%d", i)})
		tasktest.WaitEnd(t, a.Store, r.TaskID)
	}
	slow := startTask(t, a, map[string]any{"command": "sleep 0.3; echo done", "label": "slow"})
	l := call[StatusList](t, a, StatusTool(), `{}`)
	if l.Summary.Total != 14 || l.Summary.Hidden != 3 || len(l.Tasks) != 11 {
		t.Fatalf("list: total %d, hidden %d, %d shown; want 14, 3, 11", l.Summary.Total, l.Summary.Hidden, len(l.Tasks))
	}
	if !slices.ContainsFunc(l.Tasks, func(s TaskSummary) bool { return s.Label == "slow" }) {
		t.Fatalf("the running task is not listed: %+v", l.Tasks)
	}
	if all := call[StatusList](t, a, StatusTool(), `{"all":true}`); len(all.Tasks) != 14 {
		t.Fatalf("all=true lists %d of 14", len(all.Tasks))
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q,"wait_seconds":30}`, slow.TaskID))
	if d.Status != supervisor.StatusCompleted {
		t.Fatalf("after waiting: %s", d.Status)
	}
}

// A task's detail shows its restart policy's limits and its notify
// setting, as bg_run took them; a task without them shows none.
func TestStatusShowsRestartLimitsAndNotify(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "sleep 30", "restart": "on_failure", "max_restarts": 2, "backoff_seconds": 0.5, "notify": "never"})
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if d.MaxRestarts == nil || *d.MaxRestarts != 2 || d.BackoffSeconds == nil || *d.BackoffSeconds != 0.5 || d.Notify != "never" {
		t.Errorf("detail of a task with restart limits and notify=never: max_restarts %v, backoff_seconds %v, notify %q", d.MaxRestarts, d.BackoffSeconds, d.Notify)
	}
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	plain := startTask(t, a, map[string]any{"command": "true"})
	d = call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, plain.TaskID))
	if d.MaxRestarts != nil || d.BackoffSeconds != nil || d.Notify != "" {
		t.Errorf("detail of a plain task: max_restarts %v, backoff_seconds %v, notify %q", d.MaxRestarts, d.BackoffSeconds, d.Notify)
	}
}
