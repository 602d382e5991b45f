package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// marked lists the processes that carry task id's marker.
func marked(t *testing.T, id string) []procs.Proc {
	t.Helper()
	tab, err := procs.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tab.Marked()[id]
}

// Stop ends a task's whole tree through its supervisor, which records
// the end as killed; a second stop says the task is not running.
func TestStopEndsTheTree(t *testing.T) {
	t.Parallel()
	s, task := startTask(t, helpers.Shell("hang")+" & "+helpers.Shell("hang")+"; wait", RestartPolicy{})
	poll(t, 10*time.Second, "both hangs started", func() bool { return len(marked(t, task.ID)) >= 3 })
	got, err := s.Stop(context.Background(), task, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusKilled {
		t.Errorf("status %s after Stop, want %s", got.Status, StatusKilled)
	}
	poll(t, 10*time.Second, "the tree gone", func() bool { return len(marked(t, task.ID)) == 0 })
	if procs.Alive(context.Background(), got.Watchdog) {
		t.Error("the supervisor outlived the stop")
	}
	if _, err := s.Stop(context.Background(), got, time.Second); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second stop: %v, want ErrNotRunning", err)
	}
}

// A task whose supervisor died (SIGKILL) leaves orphans: the reaper kills
// them once the task is past MaxAge and records it reaped; a dry run
// before only says so.
func TestReapKillsOrphansOfADeadSupervisor(t *testing.T) {
	t.Parallel()
	s, task := startTask(t, helpers.Shell("hang"), RestartPolicy{})
	poll(t, 10*time.Second, "the hang started", func() bool { return len(marked(t, task.ID)) >= 1 })
	if err := procs.Signal(task.Watchdog, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the supervisor gone", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
	// Young: left alone.
	if acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour, Grace: time.Second}); err != nil || len(acts) != 0 {
		t.Fatalf("a young orphan: %v %+v", err, acts)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	dry, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour, DryRun: true, Grace: time.Second, Now: later})
	if err != nil || len(dry) != 1 || dry[0].Action != ActionReap || len(marked(t, task.ID)) == 0 {
		t.Fatalf("dry run: %v %+v (marked %d)", err, dry, len(marked(t, task.ID)))
	}
	acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour, Grace: time.Second, Now: later})
	if err != nil || len(acts) != 1 || acts[0].Action != ActionReap || acts[0].Err != nil {
		t.Fatalf("reap: %v %+v", err, acts)
	}
	poll(t, 10*time.Second, "the orphan gone", func() bool { return len(marked(t, task.ID)) == 0 })
	if cur, err := s.Load(task.ID); err != nil || cur.Status != StatusReaped {
		t.Errorf("after the reap: %v %+v", err, cur)
	}
}

// A folder the original bash tool left (pid, command, no supervisor
// files) is a task: listed, and once its process is gone the reaper
// records it killed (the original tool had no supervisor to say so).
func TestLegacyFolderIsATask(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	id := "task-1700000000-legacy1"
	dir := filepath.Join(s.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"command": "npm run dev\n", "pid": "999999999\n", "started_at": "2023-11-14T22:13:20Z\n", "status": "running\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tasks, err := s.List()
	if err != nil || len(tasks) != 1 || tasks[0].ID != id || tasks[0].Command != "npm run dev" {
		t.Fatalf("List: %v %+v", err, tasks)
	}
	acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour, Grace: time.Second})
	if err != nil || len(acts) != 1 || acts[0].Action != ActionDead {
		t.Fatalf("reap: %v %+v", err, acts)
	}
	if cur, err := s.Load(id); err != nil || cur.Status != StatusKilled {
		t.Errorf("after the reap: %v %+v", err, cur)
	}
}
