package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smalldisk"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// A full or nearly full disk: output is dropped and said so, never the task; stop and cleanup still work.

// A full disk: the supervisor keeps draining the terminal (the command
// never blocks on it), still enforces the timeout, records the outcome
// within seconds and what it could not write, and the reading tools keep
// answering. With small segments it frees a rotated one; with the default
// 10 MB segments the first one fills the disk, and is kept: the status
// is written in place.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"small segments", []string{"BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=40"}},
		{"first segment", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestApp(t, tc.env...)
			mountTmpfs(t, a)
			r := startTask(t, a, map[string]any{"command": "yes 'a line that fills the disk, over and over'", "timeout": 0.05})
			task := tasktest.WaitEnd(t, a.Store, r.TaskID)
			t.Logf("outcome recorded %s after the deadline", time.Since(task.Deadline()).Round(100*time.Millisecond))
			tasktest.WaitFor(t, "the supervisor to exit", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
			if task.Status != supervisor.StatusTimeout {
				t.Fatalf("status %s, want timeout: the timeout must hold on a full disk", task.Status)
			}
			if !strings.Contains(task.CaptureError, "no space left on device") || !strings.Contains(task.CaptureError, "bytes dropped") {
				t.Fatalf("capture_error %q", task.CaptureError)
			}
			l := call[StatusList](t, a, StatusTool(), `{}`)
			if len(l.Tasks) != 1 || l.Tasks[0].CaptureError == "" {
				t.Fatalf("bg_status list on a full disk: %+v", l)
			}
			out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
			if out.Stdout == nil || !strings.Contains(*out.Stdout, "[... capture failed") {
				t.Fatalf("bg_output does not say output is missing: %+v", out)
			}
			if strings.Contains(*out.Stdout, capture.GapMarker) || !strings.Contains(*out.Stdout, "a line that fills the disk") {
				t.Fatalf("the current output did not stay whole:\n%s", *out.Stdout)
			}
			call[CleanupResult](t, a, StopTool(), `{"action":"cleanup"}`)
		})
	}
}

// A disk filled by someone else, where freeing the task's own logs would
// not help: the supervisor records "killed" in place, and bg_stop says
// so at once. (Where an in-place write needs a new block too, as on a
// copy-on-write file system, bg_stop kills the tree itself and says the
// outcome is not recorded; bg_status too, until space is freed.)
func TestStopOnAFullDisk(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	mountTmpfs(t, a)
	r := startTask(t, a, map[string]any{"command": helpers.Shell("hang") + " >/dev/null", "timeout": 0})
	filler := filepath.Join(a.Store.Dir, "filler")
	smalldisk.FillSpace(t, filler, 0)
	began := time.Now()
	res, err := a.Call(t.Context(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID)))
	if err != nil {
		t.Fatalf("bg_stop on a full disk: %v", err)
	}
	t.Logf("bg_stop answered in %s", time.Since(began).Round(100*time.Millisecond))
	if st := res.(StopResult); st.Status != supervisor.StatusKilled || strings.Contains(st.Message, "not recorded") {
		t.Fatalf("bg_stop answered %+v, want killed, recorded", st)
	}
	if left := tasktest.MarkerProcs(t, r.TaskID); len(left) != 0 {
		t.Fatalf("still alive: %v", left)
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if d.Status != supervisor.StatusKilled || d.AutoKill != "" && strings.Contains(d.AutoKill, "not recorded") {
		t.Fatalf("bg_status on the full disk: status %s, auto_kill %q", d.Status, d.AutoKill)
	}
}

// TestCaptureErrorWhileTheDiskIsFull: capture_error is set while output
// is being dropped, not when the task ends, and its count grows as it
// goes. Before, the file that says so could not be written on the full
// disk until the task ended.
func TestCaptureErrorWhileTheDiskIsFull(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=40")
	mountTmpfs(t, a)
	r := startTask(t, a, map[string]any{"command": "yes 'a line that fills the disk, over and over'", "timeout": 0})
	dropped := func() int64 {
		d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
		if d.Status != supervisor.StatusRunning {
			t.Fatalf("the task ended: %+v", d)
		}
		i := strings.Index(d.CaptureError, " bytes dropped")
		if i < 0 {
			return -1
		}
		var n int64
		fmt.Sscan(d.CaptureError[strings.LastIndex(d.CaptureError[:i], " ")+1:i], &n)
		return n
	}
	var first int64
	tasktest.WaitFor(t, "capture_error while it runs", func() bool { first = dropped(); return first > 0 })
	tasktest.WaitFor(t, "the count to grow", func() bool { return dropped() > first })
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
}

// mountTmpfs puts a 2 MB tmpfs on the app's state folder until the test
// ends, or skips the test where that is not possible. The cleanup runs
// after the test body, before newTestApp's: it ends what is still running
// first (a supervisor finishing its notification holds the folder).
func mountTmpfs(t *testing.T, a *App) {
	t.Helper()
	smalldisk.Mount(t, a.Store.Dir, "size=2m", func() { tasktest.EndAll(t, a.Store) })
}

// On a nearly full disk (under the 64 KB that counts as full, but room
// for an outcome), a supervisor killing a tree whose leaf ignores SIGTERM
// is in its grace period, not waiting for space: bg_stop waits for it,
// and it records "killed". Before, bg_stop saw the command gone and the
// disk full, killed the tree itself and answered "outcome not recorded".
func TestStopOnANearlyFullDiskWaitsForTheGracePeriod(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_KILL_GRACE=4")
	mountTmpfs(t, a)
	r := startTask(t, a, map[string]any{"command": helpers.Shell("tree", "stubborn"), "timeout": 0, "wait_for": "^leaf "})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	smalldisk.FillSpace(t, filepath.Join(a.Store.Dir, "filler"), 40<<10)

	res, err := a.Call(t.Context(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID)))
	if err != nil {
		t.Fatalf("bg_stop on a nearly full disk: %v", err)
	}
	if stop := res.(StopResult); stop.Status != supervisor.StatusKilled || strings.Contains(stop.Message, "not recorded") {
		t.Fatalf("bg_stop answered %+v; want killed, recorded by the supervisor", stop)
	}
	if left := tasktest.MarkerProcs(t, task.ID); len(left) != 0 {
		t.Fatalf("still alive: %v", left)
	}
}

// A task that ends on a full disk, recorded without finished_at (no room
// for the file), is still told to its reader: its end is when its status
// was written. Before, a zero end counted as old news and was never told.
func TestAnEndOnAFullDiskIsTold(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	mountTmpfs(t, a)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-full")
	gate := filepath.Join(t.TempDir(), "go")
	r := execute(t, a, RunTool(), `{"command":"until [ -e `+gate+` ]; do sleep 0.02; done; exit 2","label":"on a full disk"}`)
	id := r["task_id"].(string)
	smalldisk.FillSpace(t, filepath.Join(a.Store.Dir, "filler"), 0)
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if task := tasktest.WaitEnd(t, a.Store, id); task.Status != supervisor.StatusFailed {
		t.Fatalf("status %s, want failed", task.Status)
	}
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 1 || !strings.HasPrefix(got[0], "on a full disk failed") {
		t.Errorf("notices %q, want the failure told", got)
	}
}
