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

// A task of the original tool started a day ago whose recorded PID now
// names a process started just now: the task's own process exited long
// ago and the PID was reused. It is not adopted, so the reaper records the
// task killed and leaves the process alone (before: "Reaped ... 1 orphaned
// process(es)" and the process was killed).
func TestLegacyTaskIgnoresAProcessStartedLongAfter(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	c := helpers.Command("hang")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	p, err := procs.Lookup(context.Background(), c.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("task-%d-late", time.Now().Add(-24*time.Hour).Unix())
	dir := filepath.Join(a.Store.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"status": "running", "pid": strconv.Itoa(p.PID), "command": "npm run dev",
		"label": "late", "timeout": "120", "stdout": "", "stderr": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := reap(t, a)
	if strings.Contains(out, "orphaned") {
		t.Errorf("the reaper took a process started a day after the task for its orphan: %q", out)
	}
	if !procs.Alive(context.Background(), p) {
		t.Fatal("the process holding the reused PID was killed")
	}
	if task, err := a.Store.Load(id); err != nil || task.Status != supervisor.StatusKilled {
		t.Fatalf("the task with a reused PID: %+v, %v; want it recorded killed", task, err)
	}
}
