package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Task folders written by the original bash tool (or an older build): listed, adopted while their process lives, never mistaken for a process started long after.

// Folders made by the original tool, by hand or by scripts: status and
// stdout are enough to be a task, listed, read, stopped and cleaned, with
// times taken from the id and no invented finished_at.
func TestLegacyFoldersAreTasks(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	started := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	mk := func(id, status string) string {
		dir := filepath.Join(a.Store.Dir, id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"status": status + "\n", "stdout": "hello from " + id + "\nERROR: it broke\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	done := mk(fmt.Sprintf("task-%d-legacy01", started.Unix()), "completed")
	running := mk(fmt.Sprintf("task-%d-legacy02", started.Unix()), "running")

	l := call[StatusList](t, a, StatusTool(), `{}`)
	if len(l.Tasks) != 2 {
		t.Fatalf("listed %d legacy tasks, want 2: %+v", len(l.Tasks), l.Tasks)
	}
	for _, s := range l.Tasks {
		if s.StartedAt != started.UTC().Format(supervisor.TimeLayout) || !strings.HasPrefix(s.Age, "2h") {
			t.Fatalf("%s: started_at %s, age %s; want the id's time, 2h ago", s.TaskID, s.StartedAt, s.Age)
		}
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"filter":"error"}`, done))
	if out.Stdout == nil || *out.Stdout != "ERROR: it broke" {
		t.Fatalf("bg_output of a legacy task: %+v", out)
	}
	// A legacy running task with no process recorded has ended: it is
	// recorded so, without an invented finished_at.
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, running))
	if d.Status == supervisor.StatusRunning || d.FinishedAt != "" {
		t.Fatalf("legacy running task: status %s, finished_at %q", d.Status, d.FinishedAt)
	}
	if _, err := os.Stat(filepath.Join(a.Store.Dir, running, "finished_at")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("finished_at invented: %v", err)
	}
	// The reaper ages them by their id: both are older than an hour.
	if out := reap(t, a, "--max-age", "60"); strings.Count(out, "Cleaned") != 2 {
		t.Fatalf("reaper --max-age 60 on 2h-old legacy tasks printed %q", out)
	}
}

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
	tasktest.WaitFor(t, "the legacy task's process to die", func() bool { return !procs.Alive(context.Background(), minep) })
	if p, err := procs.Lookup(context.Background(), stranger.Pid); err != nil || !procs.Alive(context.Background(), p) {
		t.Fatal("the process holding a reused PID was killed")
	}
}

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
