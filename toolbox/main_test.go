package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// The test binary also serves as the toolbox entries
// (tasktest.MainAsEnv=bg-run, ...), as a task's supervisor and as the
// commands tasks run: see tasktest.Main.
func TestMain(m *testing.M) {
	helpers.Register("tree", helperproc.Tree)
	helpers.Register("hang", helperproc.Hang)
	helpers.Register("signal-report", helperproc.SignalReport)
	helpers.Register("graceful", helperproc.Graceful)
	helpers.Register("flood", helperproc.Flood)
	helpers.Register("serve", helperproc.Serve)
	helpers.Register("db-standin", dbStandIn)
	helpers.Register("api-standin", apiStandIn)
	helpers.Register("crash-twice", crashTwice)
	tasktest.Main(m, &helpers, serveAs)
}

// serveAs runs args as the lean program does, but only the parts this
// package serves: a supervisor and the toolbox entries.
func serveAs(args []string) int {
	code, ok := Serve(args, os.Stdin, os.Stdout, os.Stderr, nil)
	if !ok {
		panic(tasktest.MainAsEnv + "=" + args[0] + " is not a name this package serves (the command line's tests are package cli's)")
	}
	return int(code)
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// newTestApp is toolboxtest.NewApp, which toolbox's own tests cannot
// import: an App on temporary folders whose tasks the cleanup ends.
func newTestApp(t *testing.T, env ...string) *App {
	t.Helper()
	a := NewAppIn(t.TempDir(), t.TempDir(), tasktest.Environ(env...), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	a.Executable = os.Args[0]
	t.Cleanup(func() { tasktest.EndAll(t, a.Store) })
	return a
}

// call runs tool with params given as JSON and fails the test on error.
func call[T any](t *testing.T, a *App, tool *Tool, params string) T {
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

func startTask(t *testing.T, a *App, params map[string]any) RunResult {
	t.Helper()
	raw, _ := json.Marshal(params)
	return call[RunResult](t, a, RunTool(), string(raw))
}

// reap runs the reaper's work as bg-reaper ARGS would (--max-age N,
// --dry-run) and returns one line per action, worded as bg-reaper words
// it: "Reaped ID", "Marked ID killed", "Cleaned ID", "Would ..." (the
// exact sentences are package cli's).
func reap(t *testing.T, a *App, args ...string) string {
	t.Helper()
	maxAge, dry := 180*time.Minute, false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--dry-run":
			dry = true
		case "--max-age":
			i++
			m, err := strconv.ParseFloat(args[i], 64)
			if err != nil {
				t.Fatal(err)
			}
			maxAge = time.Duration(m * float64(time.Minute))
		default:
			t.Fatalf("reap: unknown argument %q", args[i])
		}
	}
	actions, _, err := a.Reap(context.Background(), maxAge, dry)
	if err != nil {
		t.Fatalf("reap %v: %v", args, err)
	}
	var b strings.Builder
	for _, act := range actions {
		if act.Err != nil {
			t.Fatalf("reap %v: %s %s: %v", args, act.Action, act.Task.ID, act.Err)
		}
		verb := map[string]string{supervisor.ActionKill: "Reaped", supervisor.ActionReap: "Reaped", supervisor.ActionDead: "Marked", supervisor.ActionClean: "Cleaned"}[act.Action]
		if dry {
			verb = "Would " + act.Action + ":"
		}
		fmt.Fprintf(&b, "%s %s (%s): %s\n", verb, act.Task.ID, act.Task.Label, act.Why)
	}
	return b.String()
}

// startTree starts a task running the 3-level helper tree and waits for
// the setsid grandchild.
func startTree(t *testing.T, a *App, timeout float64) *supervisor.Task {
	t.Helper()
	// A label per cwd may run once: the test's trees differ by cwd.
	r := startTask(t, a, map[string]any{"command": helpers.Shell("tree"), "label": "tree", "cwd": t.TempDir(), "timeout": timeout})
	return tasktest.WaitTree(t, a.Store, r.TaskID)
}
