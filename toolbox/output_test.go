package toolbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

func TestOutputStreamsCursorsAndThreads(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `printf '\033[1;31mERROR\033[0m boom in /x\nok line\n'; echo 'warn: disk' >&2`})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	id := `"task_id":"` + r.TaskID + `"`

	both := call[OutputResult](t, a, OutputTool(), `{`+id+`}`)
	if both.Stdout == nil || *both.Stdout != "ERROR boom in /x\nok line" || both.Stderr == nil || *both.Stderr != "warn: disk" {
		t.Fatalf("first read: %+v", both)
	}
	if both.StdoutMeta.TotalLines != 2 || both.StdoutMeta.Cursor != 2 || both.StderrMeta.Cursor != 1 || both.Status != "completed" {
		t.Fatalf("meta: %+v %+v", both.StdoutMeta, both.StderrMeta)
	}
	again := call[OutputResult](t, a, OutputTool(), `{`+id+`}`)
	if *again.Stdout != "" || *again.Stderr != "" {
		t.Fatalf("second since read returned old lines: %+v", again)
	}
	if again.Message != "Nothing new since the last read." {
		t.Errorf("a since-read with nothing new says %q", again.Message)
	}

	// Another thread has its own cursor, and sees everything on its first read.
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-0190-other")
	other := call[OutputResult](t, a, OutputTool(), `{`+id+`,"stream":"stdout","filter":"error"}`)
	if *other.Stdout != "ERROR boom in /x" {
		t.Fatalf("other thread: %+v", other)
	}
	raw, _ := json.Marshal(other)
	if strings.Contains(string(raw), "stderr") {
		t.Fatalf("stream=stdout answered with stderr fields: %s", raw)
	}
	full := call[OutputResult](t, a, OutputTool(), `{`+id+`,"since":false,"raw":true,"stream":"stdout"}`)
	if *full.Stdout != "\x1b[1;31mERROR\x1b[0m boom in /x\nok line" {
		t.Fatalf("raw full read: %q", *full.Stdout)
	}
	if _, err := a.Call(t.Context(), OutputTool(), []byte(`{`+id+`,"filter":"(unclosed"}`)); err == nil || !strings.Contains(err.Error(), "filter") {
		t.Fatalf("bad filter: %v", err)
	}
}

func withEnv(getenv func(string) string, key, val string) func(string) string {
	return func(k string) string {
		if k == key {
			return val
		}
		return getenv(k)
	}
}

// An answer with no lines says so, rather than being only an id and a
// status (a product trial read that as something cut off), and a wait
// that found nothing says how long it waited.
func TestOutputOfASilentTaskSaysSo(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "exec sleep 60"}) // Prints nothing, as helpers may.
	out := call[OutputResult](t, a, OutputTool(), `{"task_id":"`+r.TaskID+`","wait_seconds":0.3}`)
	if out.Stdout != nil || out.Stderr != nil || out.Message != "It has printed nothing yet. Nothing new within 0.3s; it is still running." {
		t.Errorf("a silent running task, waited for: %+v", out)
	}
	call[StopResult](t, a, StopTool(), `{"task_id":"`+r.TaskID+`"}`)
	out = call[OutputResult](t, a, OutputTool(), `{"task_id":"`+r.TaskID+`"}`)
	if out.Status == supervisor.StatusRunning || out.Message != "It printed nothing." {
		t.Errorf("a silent task that ended: %+v", out)
	}
}
