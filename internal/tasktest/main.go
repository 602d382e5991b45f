package tasktest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// MainAsEnv names the variable that makes the test binary run as the
// program under the name it holds (bgtask, bg-run, ...).
const MainAsEnv = "BGTEST_MAIN_AS"

// Main is a TestMain for a package whose tests start tasks. The test
// binary plays three parts, as in os/exec's tests:
//   - a task's supervisor: Store.Start runs it with supervisor.SuperviseArg;
//   - the program itself under another name, when MainAsEnv holds one;
//   - the commands tasks run: the helpers registered in helpers (nil for
//     a package without helper processes).
//
// Otherwise it runs the tests. run is the program: it gets the command
// line, the program's name first, and returns the exit code.
func Main(m *testing.M, helpers *helperproc.Registry, run func(args []string) int) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.SuperviseArg {
		os.Exit(run(os.Args))
	}
	if name := os.Getenv(MainAsEnv); name != "" {
		_ = os.Unsetenv(MainAsEnv) // Not for the tasks it starts.
		os.Exit(run(append([]string{name}, os.Args[1:]...)))
	}
	if helpers == nil {
		helpers = &helperproc.Registry{}
	}
	helpers.Main(m)
}

// WaitFor polls cond every 10 ms until it holds or 30 s pass (the box may
// be loaded: deadlines are generous, never asserted as speed).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitEnd waits until task id of store has a final status and returns it.
func WaitEnd(t testing.TB, store supervisor.Store, id string) *supervisor.Task {
	t.Helper()
	var task *supervisor.Task
	WaitFor(t, id+" to end", func() bool {
		var err error
		task, err = store.Load(id)
		return err == nil && task.Status != supervisor.StatusRunning
	})
	return task
}

// WaitTree waits until task id, running helperproc.Tree, has started its
// setsid grandchild, and returns the task.
func WaitTree(t testing.TB, store supervisor.Store, id string) *supervisor.Task {
	t.Helper()
	WaitFor(t, "the setsid grandchild", func() bool {
		b, _ := os.ReadFile(filepath.Join(store.Dir, id, "stdout"))
		return bytes.Contains(b, []byte("leaf "))
	})
	task, err := store.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}
