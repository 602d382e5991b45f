package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// The test binary plays three parts, as in os/exec's tests:
//   - a task's supervisor: Store.Start runs it with supervisor.SuperviseArg;
//   - the program itself under another name: BGTEST_MAIN_AS=bg-run;
//   - the commands tasks run: the helpers registered here (see helperproc).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.SuperviseArg {
		code, _ := Serve(os.Args, os.Stdin, os.Stdout, os.Stderr, nil)
		os.Exit(int(code))
	}
	if name := os.Getenv("BGTEST_MAIN_AS"); name != "" {
		_ = os.Unsetenv("BGTEST_MAIN_AS") // Not for the tasks it starts.
		code, ok := Serve(append([]string{name}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr, nil)
		if !ok {
			panic("BGTEST_MAIN_AS=" + name + " is not a name this package serves (the command line's tests are package cli's)")
		}
		os.Exit(int(code))
	}
	helpers.Register("tree", helperproc.Tree)
	helpers.Register("hang", helperproc.Hang)
	helpers.Register("signal-report", helperproc.SignalReport)
	helpers.Register("graceful", helperproc.Graceful)
	helpers.Register("flood", helperproc.Flood)
	helpers.Register("serve", helperproc.Serve)
	helpers.Register("db-standin", dbStandIn)
	helpers.Register("api-standin", apiStandIn)
	helpers.Register("crash-twice", crashTwice)
	helpers.Main(m)
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
func waitEnd(t *testing.T, a *App, id string) *supervisor.Task {
	t.Helper()
	var task *supervisor.Task
	waitFor(t, id+" to end", func() bool {
		var err error
		task, err = a.Store.Load(id)
		return err == nil && task.Status != supervisor.StatusRunning
	})
	return task
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
	waitFor(t, "the setsid grandchild", func() bool {
		b, _ := os.ReadFile(filepath.Join(a.Store.Dir, r.TaskID, "stdout"))
		return bytes.Contains(b, []byte("leaf "))
	})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	return task
}
