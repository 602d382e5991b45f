package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Stopping a task: one that ended on its own, one stopped (SIGSTOP) by a debugger, one whose supervisor is stopped.

// A stop that arrives after the command exited on its own, before its
// supervisor recorded the end, records what really happened: failed with
// the command's exit code 3, not killed.
func TestStopAfterNaturalExit(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for i := 0; i < 10; i++ {
		r := startTask(t, a, map[string]any{"command": "exit 3"})
		task, err := a.Store.Load(r.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		tasktest.WaitFor(t, "the command to exit", func() bool { return !procs.Alive(context.Background(), task.Root) })
		if _, err := a.Call(context.Background(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID))); err != nil {
			t.Fatal(err)
		}
		task = tasktest.WaitEnd(t, a.Store, r.TaskID)
		if task.Status != "failed" || task.ExitCode == nil || *task.ExitCode != 3 {
			t.Fatalf("run %d: recorded %s, exit code %v; want failed, 3", i, task.Status, task.ExitCode)
		}
	}
}

// A task stopped with SIGSTOP gets SIGCONT after SIGTERM: its handler runs
// (the helper reports it) and it is not SIGKILLed after the grace period.
func TestStopContinuesAStoppedTask(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_KILL_GRACE=20")
	report := filepath.Join(t.TempDir(), "signals")
	r := startTask(t, a, map[string]any{"command": helpers.Shell("graceful", report), "wait_for": "ready"})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if err := procs.Signal(task.Root, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the task to stop", func() bool { return procs.Stopped(context.Background(), task.Root) })
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if b, _ := os.ReadFile(report); !strings.Contains(string(b), "terminated") {
		t.Fatalf("the stopped task never saw SIGTERM: %q", b)
	}
	if task = tasktest.WaitEnd(t, a.Store, r.TaskID); task.ExitCode == nil || *task.ExitCode != 0 {
		t.Fatalf("exit code %v, want 0 from its own SIGTERM handler (137: SIGKILLed)", task.ExitCode)
	}
}

// A supervisor stopped with SIGSTOP is continued and stops its task as
// usual; one held by a tracer (where SIGCONT does not reach) does not make
// bg_stop fail: the tree is killed without it, and the answer says so.
func TestStopWithAStoppedSupervisor(t *testing.T) {
	t.Parallel()
	for _, traced := range []bool{false, true} {
		t.Run(map[bool]string{false: "SIGSTOP", true: "traced"}[traced], func(t *testing.T) {
			a := newTestApp(t)
			r := startTask(t, a, map[string]any{"command": helpers.Shell("tree"), "wait_for": "^leaf "})
			task, err := a.Store.Load(r.TaskID)
			if err != nil {
				t.Fatal(err)
			}
			defer stopSupervisor(t, task, traced)()
			res, err := a.Call(t.Context(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID)))
			if err != nil {
				t.Fatalf("bg_stop with a stopped supervisor: %v", err)
			}
			stop := res.(StopResult)
			if stop.Status != supervisor.StatusKilled {
				t.Fatalf("bg_stop answered %+v", stop)
			}
			if left := tasktest.MarkerProcs(t, task.ID); len(left) != 0 {
				t.Fatalf("still alive: %v", left)
			}
			if says := strings.Contains(stop.Message, "supervisor (pid") && strings.Contains(stop.Message, "stopped"); says != traced {
				t.Errorf("message %q (traced: %v); supervisor log: %s", stop.Message, traced, tasktest.ReadFile(t, filepath.Join(task.Dir, supervisor.FileSupervisorLog)))
			}
		})
	}
}

// ptraceStop attaches to every thread of pid as their tracer, as a
// debugger does, which stops them, and returns the detach; SIGCONT from
// others does not resume a traced thread.
func ptraceStop(t *testing.T, pid int) (detach func()) {
	t.Helper()
	runtime.LockOSThread() // ptrace requests must come from the tracing thread.
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	detach = func() {
		for _, tid := range tids {
			_ = syscall.PtraceDetach(tid) // Best effort: cleanup SIGKILLs it anyway.
		}
		runtime.UnlockOSThread()
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if err := syscall.PtraceAttach(tid); err != nil {
			detach()
			t.Skipf("cannot ptrace here (%v): the traced case needs ptrace permission", err)
		}
		tids = append(tids, tid)
	}
	return detach
}

// A task stopped while it waits out its restart backoff was not run
// again: it ends killed with no restart counted, and its last exit code
// kept.
func TestStopInRestartBackoffCountsNoRestart(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo crashing; exit 4", "restart": "always", "backoff_seconds": 600})
	tasktest.WaitFor(t, "the first run's exit recorded, the backoff begun", func() bool {
		task, err := a.Store.Load(r.TaskID)
		return err == nil && task.LastExitCode != nil
	})
	// Meanwhile bg_status says it is between two runs (a product trial
	// found only "running" with the exited command's pid).
	tasktest.WaitFor(t, "the exited run's processes gone", func() bool {
		d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
		return d.Processes == 0 && strings.Contains(d.Message, "Its command exited 4; its restart policy runs it again after the backoff (0 restart(s) so far).")
	})
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	st := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if st.Status != supervisor.StatusKilled || st.Restarts != 0 || st.LastExitCode == nil || *st.LastExitCode != 4 || st.ExitCode != nil {
		t.Fatalf("status %s, restarts %d, last exit %v, exit %v: want killed, 0 restarts, last exit 4, no exit code of its own (no run ended it)", st.Status, st.Restarts, st.LastExitCode, st.ExitCode)
	}
}

// A task whose folder was removed since it ended cannot run again: the
// restart says why, and leaves its record and its log as they were.
func TestRestartInARemovedFolder(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r := startTask(t, a, map[string]any{"command": "echo built", "label": "build", "cwd": dir})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	stdout := filepath.Join(a.Store.Dir, r.TaskID, "stdout")
	before := tasktest.ReadFile(t, stdout)
	if _, _, err := a.Restart(t.Context(), r.TaskID); err == nil || !strings.Contains(err.Error(), "no longer exists") || !strings.Contains(err.Error(), "build (") {
		t.Fatalf("restart in a removed folder: %v", err)
	}
	task, err := a.Store.Load(r.TaskID)
	if err != nil || task.Status != supervisor.StatusCompleted || task.Restarts != 0 || tasktest.ReadFile(t, stdout) != before {
		t.Fatalf("the record changed: %+v, %v, log %q", task, err, tasktest.ReadFile(t, stdout))
	}
}
