package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// Cleanup racing readers: the task vanishes whole, the cleanup succeeds,
// and readers answer either output or "no such task".
func TestCleanupRacingReads(t *testing.T) {
	for round := 0; round < 5; round++ {
		a := newTestApp(t)
		r := startTask(t, a, map[string]any{"command": "seq 1 20000"})
		waitEnd(t, a, r.TaskID)
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
					ctx := withReader(context.Background(), fmt.Sprintf("reader-%d-%d", g, i%3))
					_, err := a.Call(ctx, bgOutput(), []byte(params))
					var in *InputError
					if err != nil && !(errors.As(err, &in) && strings.Contains(err.Error(), "no such task")) {
						errs <- err
						return
					}
				}
			}()
		}
		res := call[CleanupResult](t, a, bgStop(), `{"action":"cleanup"}`)
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

// A stop that arrives after the command exited on its own, before its
// supervisor recorded the end, records what really happened: failed with
// the command's exit code 3, not killed.
func TestStopAfterNaturalExit(t *testing.T) {
	a := newTestApp(t)
	for i := 0; i < 10; i++ {
		r := startTask(t, a, map[string]any{"command": "exit 3"})
		task, err := a.Store.Load(r.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the command to exit", func() bool { return !procs.Alive(context.Background(), task.Root) })
		if _, err := a.Call(context.Background(), bgStop(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID))); err != nil {
			t.Fatal(err)
		}
		task = waitEnd(t, a, r.TaskID)
		if task.Status != "failed" || task.ExitCode == nil || *task.ExitCode != 3 {
			t.Fatalf("run %d: recorded %s, exit code %v; want failed, 3", i, task.Status, task.ExitCode)
		}
	}
}

// The command gets exactly stdin, stdout and stderr: not the supervisor's
// PTY masters, not bg_run's readiness pipe, not what bg_run's caller left
// open without close-on-exec.
func TestCommandInheritsOnlyStdio(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	// A descriptor the caller leaks: opened without close-on-exec.
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `ls /proc/$$/fd; true`})
	task := waitEnd(t, a, r.TaskID)
	out := readFile(t, filepath.Join(task.Dir, "stdout"))
	if strings.Join(strings.Fields(out), " ") != "0 1 2" { // ls prints columns on a terminal
		t.Fatalf("the command's descriptors: %q", out)
	}
}
