package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// A supervisor killed or terminated mid-flood, and readers racing a writer or a cleanup: what was written stays readable and in order.

func TestSupervisorKilledMidFlood(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=2")
	task := floodTask(t, a)
	if err := procs.Signal(task.Watchdog, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the supervisor to die", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
	// The command dies with its terminal when the supervisor does, or
	// lives on a moment as an orphan: either way the reaper says which.
	// An orphan younger than --max-age is left alone (the task has no
	// timeout of its own), so the reaper runs with --max-age 0.
	if out := reap(t, a, "--max-age", "0"); !strings.Contains(out, "Reaped "+task.ID) && !strings.Contains(out, "Marked "+task.ID+" ") {
		t.Fatalf("reaper printed %q", out)
	}
	if left := tasktest.MarkerProcs(t, task.ID); len(left) > 0 {
		t.Fatalf("%d processes left after the reaper", len(left))
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, task.ID))
	if d.Status != supervisor.StatusReaped && d.Status != supervisor.StatusKilled {
		t.Fatalf("status %s, want reaped or killed", d.Status)
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"stream":"stdout"}`, task.ID))
	if out.Stdout == nil || !strings.Contains(*out.Stdout, "flooding the log") {
		t.Fatalf("output after the reap: %+v", out)
	}
}

func TestSupervisorTerminatedMidFlood(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=2")
	task := floodTask(t, a)
	if err := procs.Signal(task.Watchdog, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	task = tasktest.WaitEnd(t, a.Store, task.ID)
	if task.Status != supervisor.StatusKilled {
		t.Fatalf("status %s, want killed", task.Status)
	}
	tasktest.WaitFor(t, "the tree to be gone", func() bool { return len(tasktest.MarkerProcs(t, task.ID)) == 0 })
}

// floodTask starts a task writing as fast as it can, with small segments,
// and waits until it has rotated.
func floodTask(t *testing.T, a *App) *supervisor.Task {
	t.Helper()
	r := startTask(t, a, map[string]any{"command": "yes 'flooding the log'", "timeout": 0})
	tasktest.WaitFor(t, "a rotation", func() bool {
		names, _ := filepath.Glob(filepath.Join(a.Store.Dir, r.TaskID, "stdout-*"))
		return len(names) > 0
	})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// Twenty agents reading one fast writer at once, each with its own cursor:
// after its first read (the newest lines, the earlier ones counted), each
// gets every line exactly once, in order.
func TestTwentyReadersOfOneWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: twenty readers of a flood (13 s)")
	}
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.5", "BG_LOG_BACKUPS=0") // all kept
	const n = 200000
	// Written in 40 bursts, so the readers page while it writes.
	r := startTask(t, a, map[string]any{"command": fmt.Sprintf("for i in $(seq 0 39); do seq $((i*%d+1)) $(((i+1)*%d)); sleep 0.02; done", n/40, n/40)})
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := WithReader(context.Background(), fmt.Sprintf("agent-%d", g))
			params := fmt.Sprintf(`{"task_id":%q,"stream":"stdout","raw":true,"max_lines":5000}`, r.TaskID)
			last := 0
			for first := true; last < n; first = false {
				res, err := a.Call(ctx, OutputTool(), []byte(params))
				if err != nil {
					t.Error(err)
					return
				}
				out := res.(OutputResult)
				lines := strings.Split(*out.Stdout, "\n")
				if m := out.StdoutMeta; m.Remaining == 0 && m.TotalLines > m.Cursor {
					lines = lines[:len(lines)-1] // A partial last line: shown, not consumed.
				}
				for i, l := range lines {
					if l == "" {
						continue
					}
					if m := gapRe.FindStringSubmatch(l); m != nil && first && i == 0 {
						k, _ := strconv.Atoi(m[1])
						last += k
						continue
					}
					if v, err := strconv.Atoi(l); err != nil || v != last+1 {
						t.Errorf("reader %d: line %q after %d", g, l, last)
						return
					}
					last++
				}
				if len(lines) == 0 && out.Status != supervisor.StatusRunning && out.StdoutMeta.Remaining == 0 && last < n {
					t.Errorf("reader %d: ended at %d of %d", g, last, n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

var gapRe = regexp.MustCompile(`^\[\.\.\. (\d+) (?:lines rotated away unread|earlier lines omitted) \.\.\.\]$`)

// Cleanup racing readers: the task vanishes whole, the cleanup succeeds,
// and readers answer either output or "no such task".
func TestCleanupRacingReads(t *testing.T) {
	t.Parallel()
	for round := 0; round < 5; round++ {
		a := newTestApp(t)
		r := startTask(t, a, map[string]any{"command": "seq 1 20000"})
		tasktest.WaitEnd(t, a.Store, r.TaskID)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 100)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					params := fmt.Sprintf(`{"task_id":%q,"max_lines":5}`, r.TaskID)
					ctx := WithReader(context.Background(), fmt.Sprintf("reader-%d-%d", g, i%3))
					_, err := a.Call(ctx, OutputTool(), []byte(params))
					var in *InputError
					if err != nil && !(errors.As(err, &in) && strings.Contains(err.Error(), "no such task")) {
						errs <- err
						return
					}
				}
			}()
		}
		res := call[CleanupResult](t, a, StopTool(), `{"action":"cleanup"}`)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("a reader racing the cleanup failed: %v", err)
		}
		if res.Cleaned != 1 {
			t.Fatalf("cleanup: %+v", res)
		}
		left, _ := os.ReadDir(a.Store.Dir)
		for _, e := range left {
			if e.Name() != ".notices" {
				t.Fatalf("left in the state folder after cleanup: %s", e.Name())
			}
		}
	}
}
