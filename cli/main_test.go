package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The test binary plays three parts, as in os/exec's tests:
//   - a task's supervisor: Store.Start runs it with supervisor.SuperviseArg;
//   - the program itself under another name: BGTEST_MAIN_AS=bgtask;
//   - the commands tasks run: the helpers registered here (see helperproc).
//
// (internal/toolboxtest does the same for the packages above this one,
// which this package's own tests cannot import.)
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.SuperviseArg {
		os.Exit(int(Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
	}
	if name := os.Getenv("BGTEST_MAIN_AS"); name != "" {
		_ = os.Unsetenv("BGTEST_MAIN_AS") // Not for the tasks it starts.
		os.Exit(int(Main(append([]string{name}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr)))
	}
	helpers.Register("tree", helperproc.Tree)
	helpers.Register("hang", helperproc.Hang)
	helpers.Register("flood", helperproc.Flood)
	helpers.Register("serve", helperproc.Serve)
	helpers.Main(m)
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// newTestApp returns an App on temporary folders whose tasks the
// cleanup ends.
func newTestApp(t *testing.T, env ...string) *toolbox.App {
	t.Helper()
	a := toolbox.NewAppIn(t.TempDir(), t.TempDir(), tasktest.Environ(env...), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	a.Executable = os.Args[0]
	t.Cleanup(func() { tasktest.EndAll(t, a.Store) })
	return a
}

// startTask runs bg_run with params and fails the test on error.
func startTask(t *testing.T, a *toolbox.App, params map[string]any) toolbox.RunResult {
	t.Helper()
	r, err := toolbox.Invoke[toolbox.RunResult](context.Background(), a, toolbox.RunTool(), params)
	if err != nil {
		raw, _ := json.Marshal(params)
		t.Fatalf("bg_run %s: %v", raw, err)
	}
	return r
}

// runCLI runs bgtask with args in-process and returns what it printed.
func runCLI(t *testing.T, a *toolbox.App, args ...string) (stdout, stderr string, code toolbox.ExitCode) {
	t.Helper()
	var out, errOut bytes.Buffer
	a.Stdout, a.Stderr = &out, &errOut
	code = Run(context.Background(), a, "bgtask", args)
	return out.String(), errOut.String(), code
}

// waitFor polls cond every 10 ms until it holds or 30 s pass (the box may
// be loaded: deadlines are generous, never asserted as speed).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEnd waits until the task has a final status and returns it.
func waitEnd(t *testing.T, a *toolbox.App, id string) *supervisor.Task {
	t.Helper()
	var task *supervisor.Task
	waitFor(t, id+" to end", func() bool {
		var err error
		task, err = a.Store.Load(id)
		return err == nil && task.Status != supervisor.StatusRunning
	})
	return task
}

// call runs tool with params given as JSON and fails the test on error.
func call[T any](t *testing.T, a *toolbox.App, tool *toolbox.Tool, params string) T {
	t.Helper()
	res, err := a.Call(context.Background(), tool, []byte(params))
	if err != nil {
		t.Fatalf("%s %s: %v", tool.Name, params, err)
	}
	v, ok := res.(T)
	if !ok {
		t.Fatalf("%s returned %T", tool.Name, res)
	}
	return v
}
