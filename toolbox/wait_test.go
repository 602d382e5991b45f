package toolbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// freeAddr returns a free address of 127.0.0.1 for a test's server.
func freeAddr(t *testing.T) (addr string, port int) { return tasktest.FreeAddr(t) }

// listenFree listens on a free port of 127.0.0.1, for a test that serves
// in process: one of the kernel's choosing, which freeAddr never hands out.
func listenFree(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBgRunWaitsUntilReady(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tc := range []struct {
		name string
		wait func(addr string, port int) map[string]any
		want func(w *WaitResult, port int) bool
	}{
		{"regex", func(string, int) map[string]any { return map[string]any{"wait_for": "ready on"} },
			func(w *WaitResult, _ int) bool { return strings.Contains(w.Matched, "ready on http://") }},
		{"port", func(_ string, port int) map[string]any { return map[string]any{"wait_port": port} },
			func(w *WaitResult, port int) bool { return w.Port == port }},
		{"url", func(addr string, _ int) map[string]any { return map[string]any{"wait_url": "http://" + addr + "/"} },
			func(w *WaitResult, _ int) bool { return w.HTTPStatus == 200 }},
		// No TLS is spoken: the port accepting is what was seen, with no status.
		{"https url", func(addr string, _ int) map[string]any { return map[string]any{"wait_url": "https://" + addr + "/"} },
			func(w *WaitResult, port int) bool { return w.HTTPStatus == 0 && w.Port == port }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, port := freeAddr(t)
			params := tc.wait(addr, port)
			params["command"] = helpers.Shell("serve", addr, "300ms")
			r := startTask(t, a, params)
			if r.WaitResult == nil || !r.Ready || !tc.want(r.WaitResult, port) || r.Status != supervisor.StatusRunning {
				t.Fatalf("bg_run %v: %+v %+v", params, r, r.WaitResult)
			}
			call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
		})
	}
}

// A port that another program already serves is refused before
// anything starts, naming the program: the task would only crash on it,
// or the wait would take that server for the task's. The program is not
// signalled.
func TestBgRunRefusesAPortServedByAnotherProgram(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	l := listenFree(t)
	go func() { _ = http.Serve(l, http.NotFoundHandler()) }() // Ends with the listener.
	defer func() { _ = l.Close() }()
	port := l.Addr().(*net.TCPAddr).Port
	for _, params := range []map[string]any{
		{"wait_port": port}, {"wait_url": "http://" + l.Addr().String() + "/"}, {"wait_url": "https://localhost:" + fmt.Sprint(port) + "/x"},
	} {
		params["command"] = helpers.Shell("hang")
		raw, _ := json.Marshal(params)
		_, err := a.Call(context.Background(), RunTool(), raw)
		var pe *PortInUseError
		if !errors.As(err, &pe) || pe.Port != port || len(pe.Holders) != 1 || pe.Holders[0].PID != os.Getpid() || pe.Holders[0].Ours ||
			!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "never signals") {
			t.Errorf("%v: %v, want a refusal naming pid %d", params, err, os.Getpid())
		}
	}
	if tasks, _ := a.Store.List(); len(tasks) != 0 {
		t.Errorf("%d tasks started on a port in use", len(tasks))
	}
}

// A port held by one of our tasks of another label is refused, naming
// the task and how to take its place (replace=true); one held by the
// same label in the same folder is the duplicate check's.
func TestBgRunRefusesAPortOfAnotherTask(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	addr, port := freeAddr(t)
	web := startTask(t, a, map[string]any{"command": helpers.Shell("serve", addr, "0s"), "label": "web", "wait_port": port})
	if web.WaitResult == nil || !web.Ready {
		t.Fatalf("the first server: %+v", web)
	}
	_, err := a.Call(context.Background(), RunTool(), []byte(fmt.Sprintf(`{"command":"true","label":"api","wait_port":%d}`, port)))
	var pe *PortInUseError
	if !errors.As(err, &pe) || len(pe.Holders) != 1 || !pe.Holders[0].Ours || pe.Holders[0].TaskID != web.TaskID ||
		!strings.Contains(err.Error(), `label="web"`) || !strings.Contains(err.Error(), "replace=true") {
		t.Errorf("a port of our task web: %v", err)
	}
	_, err = a.Call(context.Background(), RunTool(), []byte(fmt.Sprintf(`{"command":"true","label":"web","wait_port":%d}`, port)))
	if !strings.Contains(fmt.Sprint(err), "already running as "+web.TaskID) {
		t.Errorf("the same label: %v, want the duplicate error", err)
	}
	r := startTask(t, a, map[string]any{"command": helpers.Shell("serve", addr, "0s"), "label": "web", "wait_port": port, "replace": true})
	if r.WaitResult == nil || !r.Ready {
		t.Errorf("replace=true on its port: %+v", r)
	}
}

func TestBgRunWaitEndsWithTheCrash(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	addr, _ := freeAddr(t)
	r := startTask(t, a, map[string]any{"command": helpers.Shell("serve", addr, "100ms", "crash"), "wait_for": "ready on"})
	if r.WaitResult == nil || r.Ready || r.ExitCode == nil || *r.ExitCode != 3 || r.Stderr == nil || !strings.Contains(*r.Stderr, "EADDRINUSE") {
		t.Fatalf("a crash during the wait: %+v %+v", r, r.WaitResult)
	}
}

func TestBgRunWaitTimesOut(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo starting; exec sleep 60", "wait_for": "never printed", "wait_seconds": 0.5})
	if r.WaitResult == nil || r.Ready || !r.TimedOut || r.Status != supervisor.StatusRunning || r.Stdout == nil || !strings.Contains(*r.Stdout, "starting") {
		t.Fatalf("a wait that times out: %+v %+v", r, r.WaitResult)
	}
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
}

func TestBgRunWaitSecondsAloneReturnsTheResult(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo 'Tests: 3 passed'; exit 0", "wait_seconds": 30})
	if r.Status != supervisor.StatusCompleted || r.ExitCode == nil || *r.ExitCode != 0 || r.Stdout == nil || !strings.Contains(*r.Stdout, "3 passed") || r.WaitResult != nil {
		t.Fatalf("a short run awaited: %+v", r)
	}
}

func TestBgOutputWaitsForABurst(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo start; sleep 0.5; for i in 1 2 3 4 5; do echo \"src/a.ts:$i:1 error TS2304: x$i\"; sleep 0.02; done; exec sleep 60"})
	call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID)) // sets the cursor
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"filter":"error","wait_seconds":20}`, r.TaskID))
	if out.Stdout == nil || strings.Count(*out.Stdout, "error TS2304") != 5 {
		t.Fatalf("want the 5 errors in one answer: %+v", out)
	}
	out = call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"filter":"error","wait_seconds":0.3}`, r.TaskID))
	if out.hasLines() || out.Status != supervisor.StatusRunning {
		t.Fatalf("nothing new: want an empty answer, got %+v", out)
	}
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
}

func TestNoDuplicateServers(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	addr, port := freeAddr(t)
	serve := helpers.Shell("serve", addr, "0s")
	first := startTask(t, a, map[string]any{"command": serve, "label": "web", "wait_port": port})
	if first.WaitResult == nil || !first.Ready {
		t.Fatalf("first server: %+v", first)
	}
	_, err := a.Call(t.Context(), RunTool(), []byte(fmt.Sprintf(`{"command":%q,"label":"web"}`, serve)))
	if err == nil || !strings.Contains(err.Error(), "already running as "+first.TaskID) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("a duplicate label: %v", err)
	}
	// Under another label it starts, dies of the busy port, and is told who holds it.
	other := startTask(t, a, map[string]any{"command": serve, "label": "web2", "wait_for": "ready on"})
	if other.Ready || !strings.Contains(other.Message, `held by your task "web"`) {
		t.Fatalf("a task dying of a port we hold: %+v", other)
	}
	again := startTask(t, a, map[string]any{"command": serve, "label": "web", "replace": true, "wait_port": port})
	if again.WaitResult == nil || !again.Ready || again.TaskID == first.TaskID {
		t.Fatalf("replace: %+v", again)
	}
	if old := tasktest.WaitEnd(t, a.Store, first.TaskID); old.Status != supervisor.StatusKilled {
		t.Fatalf("the replaced task ended %s", old.Status)
	}
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, again.TaskID))
}

// A CallLimit ends every kind of wait at its time, however long
// wait_seconds asked, and the answer says how much is left and which call
// goes on waiting (the MCP server's bound for clients that take no
// progress notifications).
func TestCallLimitBoundsEveryWait(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo starting; exec sleep 600", "label": "long"})
	limited := func() context.Context {
		return WithCallLimit(context.Background(), CallLimit{Until: time.Now().Add(500 * time.Millisecond)})
	}
	callLimited := func(tool *Tool, params string) any {
		t.Helper()
		res, err := a.Call(limited(), tool, []byte(params))
		if err != nil {
			t.Fatalf("%s %s: %v", tool.Name, params, err)
		}
		return res
	}
	// bg_output: the same call again.
	tasktest.WaitFor(t, "the first line read", func() bool { // Nothing new after it.
		o := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
		return o.Stdout != nil && strings.Contains(*o.Stdout, "starting")
	})
	out := callLimited(OutputTool(), fmt.Sprintf(`{"task_id":%q,"wait_seconds":600}`, r.TaskID)).(OutputResult)
	if out.WaitLeft < 590 || !strings.Contains(out.Message, "wait_seconds=") || out.hasLines() {
		t.Errorf("bg_output: wait_left %g, message %q: %+v", out.WaitLeft, out.Message, out)
	}
	// bg_status: the same call again.
	d := callLimited(StatusTool(), fmt.Sprintf(`{"task_id":%q,"wait_seconds":600}`, r.TaskID)).(TaskDetail)
	if d.WaitLeft < 590 || !strings.Contains(d.Message, "bg_status task_id="+r.TaskID+" wait_seconds=") || d.Status != supervisor.StatusRunning {
		t.Errorf("bg_status: wait_left %g, message %q", d.WaitLeft, d.Message)
	}
	// bg_run: the call that waits on the task it started.
	for _, tc := range []struct {
		params map[string]any
		next   string
	}{
		{map[string]any{"wait_seconds": 600}, "bg_status task_id="},
		{map[string]any{"wait_for": "never printed", "wait_seconds": 600}, `filter="never printed" wait_seconds=`},
		{map[string]any{"wait_port": 1, "wait_seconds": 600}, "bg_output task_id="},
	} {
		tc.params["command"] = "exec sleep 600"
		raw, _ := json.Marshal(tc.params)
		run := callLimited(RunTool(), string(raw)).(RunResult)
		if run.WaitResult == nil || !run.TimedOut || run.WaitLeft < 590 || !strings.Contains(run.Message, tc.next) {
			t.Errorf("bg_run %s: %+v %+v", raw, run, run.WaitResult)
		}
	}
	// Without a limit, wait_seconds is the bound, and nothing is left.
	plain := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q,"wait_seconds":0.3}`, r.TaskID))
	if plain.WaitLeft != 0 || plain.Message != "" {
		t.Errorf("an unlimited wait that ran its course: wait_left %g, message %q", plain.WaitLeft, plain.Message)
	}
}

// A waiting call reports progress every ProgressEvery, with the time
// waited and the time asked for.
func TestCallLimitReportsProgress(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "exec sleep 600"})
	var mu sync.Mutex
	var reports [][2]time.Duration
	ctx := WithCallLimit(context.Background(), CallLimit{Progress: func(waited, total time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, [2]time.Duration{waited, total})
	}})
	asked := ProgressEvery + 2*time.Second
	if _, err := a.Call(ctx, StatusTool(), []byte(fmt.Sprintf(`{"task_id":%q,"wait_seconds":%g}`, r.TaskID, asked.Seconds()))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 || reports[0][0] < ProgressEvery || reports[0][1] != asked {
		t.Errorf("progress reports %v, want one after %v of %v", reports, ProgressEvery, asked)
	}
}

// A ready bg_run carries the start-up output (a warning printed before the
// server was ready is not lost), and the next since-read starts after it.
func TestReadyRunCarriesStartupOutput(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{
		"command":  `echo "booting v1.2"; echo "warning: DATABASE_URL is not set, using sqlite" >&2; echo "listening on :3000"; sleep 30`,
		"label":    "web",
		"wait_for": "listening",
	})
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if r.WaitResult == nil || !r.Ready {
		t.Fatalf("not ready: %+v", r)
	}
	if r.Stderr == nil || !strings.Contains(*r.Stderr, "DATABASE_URL is not set") || r.Stdout == nil || !strings.Contains(*r.Stdout, "booting v1.2") {
		b, _ := os.ReadFile(filepath.Join(a.Store.Dir, r.TaskID, "stderr"))
		t.Fatalf("the ready answer lacks the start-up output (its stderr log holds %q): %+v", b, r)
	}
	// The matched line is said once, as matched.
	if r.Matched != "listening on :3000" || strings.Contains(*r.Stdout, "listening on :3000") {
		t.Fatalf("the matched line is not said exactly once: matched %q, stdout %q", r.Matched, *r.Stdout)
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if out.hasLines() {
		t.Fatalf("the next since-read repeats the start-up output: %+v", out)
	}
}

// TestMatchedIsTheMatchingLine: a filter brings the lines that say where
// a match is (a failed test's header before it, a location line); the
// matched line wait_for reports is the one the pattern found.
func TestMatchedIsTheMatchingLine(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{
		"command":  `echo "/srv/app/server.js:10"; echo " FAIL  smoke.test.js > boots"; echo "server ready on :3000"; sleep 30`,
		"wait_for": "ready",
	})
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if r.WaitResult == nil || r.Matched != "server ready on :3000" {
		t.Fatalf("matched %+v", r.WaitResult)
	}
}
