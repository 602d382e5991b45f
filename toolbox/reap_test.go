package toolbox

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// The reaper against supervisors that cannot answer.

// The reaper ends an overdue task whose supervisor is stopped as bg_stop
// does: one stopped by SIGSTOP is continued and records "reaped" itself;
// one held by a tracer, where SIGCONT does not reach, is acted around:
// the tree is killed and "reaped" recorded without it. Before, the reaper
// waited out its 15 s and failed with "supervisor ... did not stop".
func TestReaperWithAStoppedSupervisor(t *testing.T) {
	t.Parallel()
	for _, traced := range []bool{false, true} {
		t.Run(map[bool]string{false: "SIGSTOP", true: "traced"}[traced], func(t *testing.T) {
			a := newTestApp(t)
			task := startTree(t, a, 60)
			defer stopSupervisor(t, task, traced)()
			// Four hours pass: far past its timeout of an hour.
			later := time.Now().Add(4 * time.Hour)
			a.Now = func() time.Time { return later }

			if out := reap(t, a); !strings.Contains(out, "Reaped "+task.ID) {
				t.Fatalf("reaper printed %q", out)
			}
			got, err := a.Store.Load(task.ID)
			if err != nil || got.Status != supervisor.StatusReaped {
				t.Fatalf("overdue task with a stopped supervisor: %+v, %v", got, err)
			}
			if left := tasktest.MarkerProcs(t, task.ID); len(left) != 0 {
				t.Fatalf("still alive: %v", left)
			}
			if !traced {
				// Continued, it recorded the outcome itself.
				if log := tasktest.ReadFile(t, filepath.Join(got.Dir, supervisor.FileSupervisorLog)); !strings.Contains(log, "user defined signal 1: killing the tree") {
					t.Errorf("supervisor log: %q", log)
				}
			}
		})
	}
}

// stopSupervisor stops the supervisor of task, with SIGSTOP or, traced,
// as a tracer, waits until it is stopped and returns the tracer's detach
// (to defer on the test's goroutine: ptrace requests come from one thread).
func stopSupervisor(t *testing.T, task *supervisor.Task, traced bool) (detach func()) {
	t.Helper()
	detach = func() {}
	if traced {
		detach = ptraceStop(t, task.Watchdog.PID)
	} else if err := procs.Signal(task.Watchdog, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the supervisor to stop", func() bool { return procs.Stopped(context.Background(), task.Watchdog) })
	return detach
}
