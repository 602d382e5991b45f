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
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// The test binary plays three parts, as in os/exec's tests:
//   - a task's supervisor: Store.Start runs it with supervisor.SuperviseArg;
//   - the program itself under another name: BGTEST_MAIN_AS=bg-run;
//   - the commands tasks run: BGTEST_HELPER=<role>, see runHelper.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.SuperviseArg {
		os.Exit(int(Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
	}
	if name := os.Getenv("BGTEST_MAIN_AS"); name != "" {
		os.Unsetenv("BGTEST_MAIN_AS")
		os.Exit(int(Main(append([]string{name}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr)))
	}
	if role := os.Getenv("BGTEST_HELPER"); role != "" {
		os.Exit(runHelper(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runHelper plays a task's command:
//
//	tree         start "mid", print "root PID", wait; mid starts "leaf" in a new
//	             session (setsid) and waits; leaf prints "leaf PID" and hangs
//	leaf         print "leaf PID" and hang
//	flood N SEED write N bytes of floodBytes(N, SEED) to stdout as fast as it can
//	hang         print "ready" and hang
//	signal-report FILE  print "ready", append each SIGTERM/SIGWINCH received to FILE
func runHelper(role string, args []string) int {
	switch role {
	case "tree", "mid":
		next := map[string]string{"tree": "mid", "mid": "leaf"}[role]
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), "BGTEST_HELPER="+next)
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: role == "mid"}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s %d\n", role, os.Getpid())
		_ = c.Wait() // Only to stay alive.
	case "leaf":
		fmt.Printf("leaf %d\n", os.Getpid())
	case "hang":
		fmt.Println("ready")
	case "flood":
		n, _ := strconv.Atoi(args[0])
		seed, _ := strconv.ParseUint(args[1], 10, 64)
		if _, err := os.Stdout.Write(floodBytes(n, seed)); err != nil {
			return 1
		}
		return 0
	case "serve": // serve ADDR DELAY [crash]: an HTTP server ready after DELAY
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
	case "signal-report":
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGWINCH)
		fmt.Println("ready")
		for s := range ch {
			f, err := os.OpenFile(args[0], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				fmt.Fprintln(f, s)
				_ = f.Close() // Best effort.
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", role)
		return 2
	}
	select {}
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

// helperCommand is a bash command line that runs the test binary as role.
func helperCommand(role string, args ...string) string {
	return "BGTEST_HELPER=" + role + " " + shellJoin(append([]string{os.Args[0]}, args...))
}

// newTestApp returns an App with its own state folder; env entries are
// added to the environment the supervisor and the commands see. Cleanup
// ends every task's tree and supervisor.
func newTestApp(t *testing.T, env ...string) *App {
	t.Helper()
	// A loaded box is slow: give notification hooks time, kills less.
	environ := append(os.Environ(), "BG_KILL_GRACE=1", "BG_NOTIFY_TIMEOUT=30")
	environ = append(environ, env...)
	getenv := EnvGetter(environ)
	var stdout, stderr bytes.Buffer
	a := &App{
		Store:  supervisor.Store{Dir: t.TempDir()},
		Getenv: getenv, Environ: environ,
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Executable: os.Args[0], Wd: t.TempDir(), Now: time.Now,
	}
	t.Cleanup(func() { endAllTasks(t, a) })
	return a
}

// endAllTasks kills what the test's tasks left running: every supervisor
// and every process carrying a task's marker.
func endAllTasks(t *testing.T, a *App) {
	tasks, _ := a.Store.List()
	for _, task := range tasks {
		_ = procs.Signal(task.Watchdog, syscall.SIGKILL) // Best effort: usually gone.
		if _, err := procs.KillTree(context.Background(), procs.Target{Root: task.Root, Marker: task.ID, Grace: 100 * time.Millisecond}); err != nil {
			t.Errorf("cleanup %s: %v", task.ID, err)
		}
	}
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

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func markerProcs(t *testing.T, id string) []procs.Proc {
	t.Helper()
	tab, err := procs.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tab.Marked()[id]
}
