package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// A live task of the original tool (status running, the pid of a live
// process, no recorded start times) is running, not "gone": its process
// started after the task (the time in its id). bg_stop ends it. A
// recorded PID whose process started before the task is someone else's,
// and is never adopted nor signalled.
func TestLegacyLiveTaskIsAdopted(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	start := func() *os.Process { // Running is enough: its start time is what counts.
		c := helpers.Command("hang")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c.Process
	}
	legacy := func(seconds int64, suffix string, pid int) string {
		id := fmt.Sprintf("task-%d-%s", seconds, suffix)
		dir := filepath.Join(a.Store.Dir, id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"status": "running", "pid": strconv.Itoa(pid), "command": "npm run dev",
			"label": "old-" + suffix, "timeout": "120", "stdout": "", "stderr": ""} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	before := time.Now().Unix() - 1
	mine := start()
	stranger := start()
	minep, err := procs.Lookup(context.Background(), mine.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ours := legacy(before, "ours", mine.Pid)
	// A task "started" a minute after the process that now has its PID.
	reused := legacy(time.Now().Unix()+60, "reused", stranger.Pid)

	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, ours))
	if d.Status != supervisor.StatusRunning || !strings.HasPrefix(d.AutoKill, "NOT ENFORCED") {
		t.Fatalf("a live legacy task: status %s, auto_kill %q", d.Status, d.AutoKill)
	}
	if out := reap(t, a, "--dry-run"); strings.Contains(out, ours) {
		t.Fatalf("the reaper would end a young legacy task: %q", out)
	}
	d = call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, reused))
	if d.Status != supervisor.StatusKilled {
		t.Fatalf("a legacy task whose PID now names an older process: status %s", d.Status)
	}
	stop := call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, ours))
	if stop.Status != supervisor.StatusKilled {
		t.Fatalf("bg_stop of a live legacy task: %+v", stop)
	}
	waitFor(t, "the legacy task's process to die", func() bool { return !procs.Alive(context.Background(), minep) })
	if p, err := procs.Lookup(context.Background(), stranger.Pid); err != nil || !procs.Alive(context.Background(), p) {
		t.Fatal("the process holding a reused PID was killed")
	}
}
