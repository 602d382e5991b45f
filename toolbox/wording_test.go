package toolbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// What the tools say is exact: no echo of a defaulted label, no rounded
// timeout, no "-0", no Go type names, one error format for every bound.
func TestWording(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "exec sleep 60", "timeout": 1.5})
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if strings.Contains(r.Message, `"`+r.TaskID+`"`) || !strings.HasPrefix(r.Message, "Started "+r.TaskID+" (pid ") {
		t.Errorf("start without a label: %q", r.Message)
	}
	if !strings.Contains(r.Message, "Auto-kills in 1m30s,") {
		t.Errorf("timeout 1.5: %q", r.Message)
	}
	z, err := a.Call(t.Context(), RunTool(), []byte(`{"command":"exec sleep 60","timeout":-0}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(z)
	zr := z.(RunResult)
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, zr.TaskID))
	// Anywhere but in the task id, which is random and can hold "-0".
	if strings.Contains(strings.ReplaceAll(string(b), zr.TaskID, ""), "-0") {
		t.Errorf("-0 echoed: %s", b)
	}
	for _, tc := range []struct {
		tool          *Tool
		in, want, not string
	}{
		{RunTool(), `[1,2]`, "want one object of parameters", "Go value"},
		{RunTool(), `"x"`, "want one object of parameters", "map["},
		{OutputTool(), fmt.Sprintf(`{"task_id":%q,"max_line_len":70000}`, r.TaskID), "max_line_len: must be at most 65536, got 70000", "invalid max_line_len"},
	} {
		_, err := a.Call(t.Context(), tc.tool, []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("%s %s: %v, want %q", tc.tool.Name, tc.in, err, tc.want)
		}
	}
	for _, p := range OutputTool().Params {
		if p.Name == "max_line_len" && (p.Max == nil || *p.Max != 65536) {
			t.Errorf("max_line_len's schema declares no maximum: %+v", p)
		}
	}
	// A timed-out wait on a task that printed nothing promises no lines.
	quiet := startTask(t, a, map[string]any{"command": "exec sleep 60", "wait_for": "never", "wait_seconds": 0.3})
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, quiet.TaskID))
	if strings.Contains(quiet.Message, "last lines follow") {
		t.Errorf("timed-out wait without output: %q", quiet.Message)
	}
}

// Python's bind error names no port: the hint finds it from the run
// (with wait_port on a port already taken, bg_run refuses before it
// starts: see TestBgRunRefusesAPortOfAnotherTask).
func TestPortHintWithoutPortInMessage(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	var first RunResult
	var port int
	for try := 1; ; try++ {
		var addr string
		addr, port = freeAddr(t)
		r, err := Invoke[RunResult](context.Background(), a, RunTool(), map[string]any{"command": helpers.Shell("serve", addr, "0s"), "label": "web", "wait_port": port})
		var taken *PortInUseError
		if errors.As(err, &taken) && try < 5 {
			// Taken between freeAddr and the start by a process of
			// another test binary or another user of this box: the
			// refusal is right; the test needs a port nobody holds.
			continue
		}
		if err != nil {
			t.Fatalf("first server: %v", err)
		}
		first = r
		break
	}
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, first.TaskID))
	if first.WaitResult == nil || !first.Ready {
		t.Fatalf("first server: %+v", first)
	}
	py := fmt.Sprintf(`echo "Traceback (most recent call last):" >&2; echo "OSError: [Errno 98] Address already in use" >&2; exit 1 # http.server %d`, port)
	other := startTask(t, a, map[string]any{"command": py, "label": "py", "wait_for": "Serving HTTP"})
	if other.Ready || !strings.Contains(other.Message, `held by your task "web"`) {
		t.Fatalf("a Python server dying of a port we hold: %+v", other)
	}
}

func TestByteCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 bytes", 1: "1 byte", 6: "6 bytes"} {
		if got := ByteCount(n); got != want {
			t.Errorf("ByteCount(%d) = %q, want %q", n, got, want)
		}
	}
}

// bg_run with wait_seconds alone waits for the end: when the wait runs
// out, it says the task still runs and how to wait for its end, not
// "not ready" and a wait for output (a product trial found that).
func TestRunWaitForTheEndRunsOut(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "exec sleep 60", "wait_seconds": 0.3})
	if !strings.HasPrefix(r.Message, "Still running after 0.3s: ") || !strings.Contains(r.Message, "bg_status task_id="+r.TaskID+" wait_seconds=") {
		t.Errorf("message %q", r.Message)
	}
}
