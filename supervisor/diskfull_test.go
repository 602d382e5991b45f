package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smalldisk"
)

// On a disk with no room for the outcome's new files, and no rotated log
// segment of the task's to free, the supervisor writes the status in
// place: the task does not stay "running", and its current output is
// kept (before, both logs were emptied to make room). Out of space and
// out of inodes alike.
func TestTheOutcomeIsRecordedInPlaceOnAFullDisk(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		mount string // tmpfs options
		fill  func(t testing.TB, path string)
	}{
		{"no space", "size=1m", func(t testing.TB, path string) { smalldisk.FillSpace(t, path, 0) }},
		{"no inodes", "size=16m,nr_inodes=64", smalldisk.FillInodes},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Store{Dir: t.TempDir()}
			smalldisk.Mount(t, s.Dir, c.mount, nil)
			task, err := s.Start(context.Background(), Request{Command: "echo before the disk filled; " + helpers.Shell("hang"), Cwd: t.TempDir(), Env: os.Environ(), Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = syscall.Kill(-task.Root.PID, syscall.SIGKILL) // Best effort: ended by Stop below, unless it failed.
			})
			poll(t, 30*time.Second, "the task's first line in its log", func() bool {
				b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
				return len(b) > 0
			})
			c.fill(t, filepath.Join(s.Dir, "filler"))
			end, err := s.Stop(context.Background(), task, time.Second)
			if err != nil {
				t.Fatalf("stop on a full disk: %v", err)
			}
			if end.Status != StatusKilled || end.StopNote != "" {
				t.Fatalf("stop on a full disk: status %s, note %q; want killed, recorded", end.Status, end.StopNote)
			}
			poll(t, 30*time.Second, "the supervisor to exit", func() bool { return syscall.Kill(end.Watchdog.PID, 0) != nil })
			got, err := s.Load(task.ID)
			if err != nil || got.Status != StatusKilled {
				t.Fatalf("the record: %+v, %v; want killed", got, err)
			}
			if b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout")); !strings.Contains(string(b), "before the disk filled") {
				t.Errorf("stdout after the outcome was recorded: %q; want the output kept", b)
			}
			// With no finished_at, the end is when the status was
			// written: for the notices, and for the reaper, which would
			// otherwise date it by its start (made two hours old here,
			// in place).
			if got.FinishedAt.IsZero() || time.Since(got.FinishedAt) > time.Minute {
				t.Errorf("finished at %v, want about now", got.FinishedAt)
			}
			long := time.Now().Add(-2 * time.Hour).UTC().Format(TimeLayout)
			if err := writeInPlace(filepath.Join(task.Dir, fileStartedAt), []byte(long+"\n")); err != nil {
				t.Fatal(err)
			}
			if acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour, DryRun: true}); err != nil || len(acts) != 0 {
				t.Errorf("the reaper, for tasks ended over an hour ago: %+v, %v; want nothing: it ended just now", acts, err)
			}
		})
	}
}

// A task whose policy runs it again keeps running on a full disk: the new
// run's pid files, which the task has, are overwritten in place. Before,
// the new run was killed ("could not start again") and the task recorded
// as failed, whatever its command's exit.
func TestARestartPolicyRunsOnAFullDisk(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	smalldisk.Mount(t, s.Dir, "size=1m", nil)
	task, err := s.Start(context.Background(), Request{Command: "sleep 0.5", Cwd: t.TempDir(), Env: os.Environ(), Timeout: time.Minute,
		Restart: RestartPolicy{Policy: RestartAlways, Max: 2, Backoff: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, s, task.ID)
	smalldisk.FillSpace(t, filepath.Join(s.Dir, "filler"), 0)
	end := waitEnded(t, s, task.ID)
	if end.Status != StatusCompleted || end.Root.PID == task.Root.PID {
		t.Errorf("on a full disk: status %s, pid %d (first run's %d); want completed, after runs of its own", end.Status, end.Root.PID, task.Root.PID)
	}
}

// bgtask restart of a running task on a full disk answers once the new
// run is recorded: its pid files, written in place, say so, where the
// count of restarts (a file the task did not have yet) cannot. Before,
// it answered "did not restart it" after its wait, though it had.
func TestARestartOnRequestOnAFullDisk(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	smalldisk.Mount(t, s.Dir, "size=1m", nil)
	task, err := s.Start(context.Background(), Request{Command: helpers.Shell("hang"), Cwd: t.TempDir(), Env: os.Environ(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, s, task.ID)
	smalldisk.FillSpace(t, filepath.Join(s.Dir, "filler"), 0)
	again, err := s.Restart(context.Background(), task, RestartRequest{Env: os.Environ(), Grace: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("restart on a full disk: %v", err)
	}
	if again.Status != StatusRunning || again.Restarts != 1 || again.Root.PID == task.Root.PID {
		t.Errorf("after the restart: status %s, restarts %d, pid %d (before %d); want running, 1, a new pid", again.Status, again.Restarts, again.Root.PID, task.Root.PID)
	}
}
