package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
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
		os.Exit(int(Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
	}
	if name := os.Getenv("BGTEST_MAIN_AS"); name != "" {
		_ = os.Unsetenv("BGTEST_MAIN_AS") // Not for the tasks it starts.
		os.Exit(int(Main(append([]string{name}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr)))
	}
	helpers.Register("tree", helperproc.Tree)
	helpers.Register("hang", helperproc.Hang)
	helpers.Register("signal-report", helperproc.SignalReport)
	helpers.Register("graceful", helperproc.Graceful)
	helpers.Register("flood", flood)
	helpers.Register("serve", serve)
	helpers.Main(m)
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// flood N SEED writes N bytes of floodBytes(N, SEED) to stdout as fast as
// it can.
func flood(args []string) int {
	n, _ := strconv.Atoi(args[0])
	seed, _ := strconv.ParseUint(args[1], 10, 64)
	if _, err := os.Stdout.Write(floodBytes(n, seed)); err != nil {
		return 1
	}
	return 0
}

// serve ADDR DELAY [crash] is an HTTP server ready after DELAY, or a
// server that fails to listen after DELAY, as a dev server does.
func serve(args []string) int {
	d, _ := time.ParseDuration(args[1])
	time.Sleep(d)
	if len(args) > 2 && args[2] == "crash" {
		fmt.Fprintln(os.Stderr, "Error: listen EADDRINUSE: address already in use "+args[0])
		return 3
	}
	l, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("ready on http://%s\n", args[0])
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	return 1
}

// floodBytes is deterministic printable output of varying line lengths.
func floodBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, 0, n)
	for len(b) < n {
		for i, l := 0, r.IntN(300); i < l && len(b) < n-1; i++ {
			b = append(b, byte(' '+r.IntN(95)))
		}
		b = append(b, '\n')
	}
	return b[:n]
}

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
	return call[RunResult](t, a, bgRun(), string(raw))
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
