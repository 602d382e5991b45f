package toolbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInteractiveTaskAnswersThroughBgSend(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `printf 'Ok to proceed? (y) '; read ans; echo "answer: $ans"; read more; echo "then: $more"`, "interactive": true})
	stdout := filepath.Join(a.Store.Dir, r.TaskID, "stdout")
	waitFor(t, "the prompt", func() bool { b, _ := os.ReadFile(stdout); return strings.Contains(string(b), "Ok to proceed?") })
	// The prompt is reported, and shown, once output has been quiet for
	// capture.PartialQuiet: until then it may be a line being written.
	var out OutputResult
	waitFor(t, "waiting_for_input", func() bool {
		out = call[OutputResult](t, a, bgOutput(), fmt.Sprintf(`{"task_id":%q,"since":false}`, r.TaskID))
		return out.WaitingForInput
	})
	if out.Stdout == nil || !strings.Contains(*out.Stdout, "Ok to proceed? (y)") {
		t.Fatalf("the prompt is reported but not shown: %+v", out)
	}
	call[SendResult](t, a, bgSend(), fmt.Sprintf(`{"task_id":%q,"text":"y"}`, r.TaskID))
	waitFor(t, "the answer", func() bool { b, _ := os.ReadFile(stdout); return strings.Contains(string(b), "answer: y") })
	call[SendResult](t, a, bgSend(), fmt.Sprintf(`{"task_id":%q,"text":"second","key":"enter"}`, r.TaskID))
	task := waitEnd(t, a, r.TaskID)
	if b, _ := os.ReadFile(stdout); task.Status != "completed" || !strings.Contains(string(b), "then: second") {
		t.Fatalf("ended %s with %q", task.Status, b)
	}
	// A finished task and a non-interactive one refuse input clearly.
	if _, err := a.Call(t.Context(), bgSend(), []byte(fmt.Sprintf(`{"task_id":%q,"text":"x"}`, r.TaskID))); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("send to a finished task: %v", err)
	}
	plain := startTask(t, a, map[string]any{"command": "exec sleep 60"})
	if _, err := a.Call(t.Context(), bgSend(), []byte(fmt.Sprintf(`{"task_id":%q,"text":"x"}`, plain.TaskID))); err == nil || !strings.Contains(err.Error(), "not interactive") {
		t.Fatalf("send to a non-interactive task: %v", err)
	}
	call[StopResult](t, a, bgStop(), fmt.Sprintf(`{"task_id":%q}`, plain.TaskID))
}

func TestBgSendCtrlCInterrupts(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `trap 'echo interrupted; exit 130' INT; echo ready; while true; do sleep 0.1; done`, "interactive": true, "wait_for": "ready"})
	call[SendResult](t, a, bgSend(), fmt.Sprintf(`{"task_id":%q,"key":"ctrl-c"}`, r.TaskID))
	task := waitEnd(t, a, r.TaskID)
	if task.ExitCode == nil || *task.ExitCode != 130 {
		t.Fatalf("ctrl-c: ended %s, exit %v", task.Status, task.ExitCode)
	}
}

func TestCLISend(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `read ans; echo "got $ans"`, "interactive": true})
	var out, errOut strings.Builder
	a.Stdout, a.Stderr = &out, &errOut
	if code := a.CLI(t.Context(), "bgtask", []string{"send", r.TaskID, "hello", "there"}); code != ExitOK {
		t.Fatalf("send: exit %d: %s", code, errOut.String())
	}
	task := waitEnd(t, a, r.TaskID)
	if b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout")); !strings.Contains(string(b), "got hello there") {
		t.Fatalf("stdout %q", b)
	}
}
