package toolbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
)

func TestInteractiveTaskAnswersThroughBgSend(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `printf 'Ok to proceed? (y) '; read ans; echo "answer: $ans"; read more; echo "then: $more"`, "interactive": true})
	stdout := filepath.Join(a.Store.Dir, r.TaskID, "stdout")
	tasktest.WaitFor(t, "the prompt", func() bool { b, _ := os.ReadFile(stdout); return strings.Contains(string(b), "Ok to proceed?") })
	// The prompt is reported, and shown, once output has been quiet for
	// capture.PartialQuiet: until then it may be a line being written.
	var out OutputResult
	tasktest.WaitFor(t, "waiting_for_input", func() bool {
		out = call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"since":false}`, r.TaskID))
		return out.WaitingForInput
	})
	if out.Stdout == nil || !strings.Contains(*out.Stdout, "Ok to proceed? (y)") {
		t.Fatalf("the prompt is reported but not shown: %+v", out)
	}
	call[SendResult](t, a, SendTool(), fmt.Sprintf(`{"task_id":%q,"text":"y"}`, r.TaskID))
	tasktest.WaitFor(t, "the answer", func() bool { b, _ := os.ReadFile(stdout); return strings.Contains(string(b), "answer: y") })
	call[SendResult](t, a, SendTool(), fmt.Sprintf(`{"task_id":%q,"text":"second","key":"enter"}`, r.TaskID))
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	if b, _ := os.ReadFile(stdout); task.Status != "completed" || !strings.Contains(string(b), "then: second") {
		t.Fatalf("ended %s with %q", task.Status, b)
	}
	// A finished task and a non-interactive one refuse input clearly.
	if _, err := a.Call(t.Context(), SendTool(), []byte(fmt.Sprintf(`{"task_id":%q,"text":"x"}`, r.TaskID))); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("send to a finished task: %v", err)
	}
	// The refusal names the task as people know it too: by its label.
	plain := startTask(t, a, map[string]any{"command": "exec sleep 60", "label": "plain-server"})
	if _, err := a.Call(t.Context(), SendTool(), []byte(fmt.Sprintf(`{"task_id":%q,"text":"x"}`, plain.TaskID))); err == nil ||
		!strings.Contains(err.Error(), "not interactive") || !strings.Contains(err.Error(), "plain-server ("+plain.TaskID+")") {
		t.Fatalf("send to a non-interactive task: %v", err)
	}
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, plain.TaskID))
}

func TestBgSendCtrlCInterrupts(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `trap 'echo interrupted; exit 130' INT; echo ready; while true; do sleep 0.1; done`, "interactive": true, "wait_for": "ready"})
	call[SendResult](t, a, SendTool(), fmt.Sprintf(`{"task_id":%q,"key":"ctrl-c"}`, r.TaskID))
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	if task.ExitCode == nil || *task.ExitCode != 130 {
		t.Fatalf("ctrl-c: ended %s, exit %v", task.Status, task.ExitCode)
	}
}

// A control character inside text is typed literally: the program reads
// the byte, and a raw ^C interrupts nothing (keys that act go through key).
func TestBgSendTextIsLiteral(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `trap 'echo interrupted; exit 130' INT; echo ready; IFS= read -r line; printf 'got %q\n' "$line"`,
		"interactive": true, "wait_for": "ready"})
	call[SendResult](t, a, SendTool(), fmt.Sprintf(`{"task_id":%q,"text":"a\u0003b\u001bc"}`, r.TaskID))
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
	if task.Status != "completed" || !strings.Contains(string(b), `got $'a\003b\Ec'`) {
		t.Fatalf("ended %s with %q", task.Status, b)
	}
}

// A send never blocks: to a program that never reads its input, sends
// succeed until the terminal and the FIFO are full, then one answers that
// the task is not reading, with what is pending.
func TestBgSendNeverBlocks(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": helpers.Shell("hang"), "interactive": true, "wait_for": "ready"})
	text := strings.Repeat("x", 4000)
	for i := 0; ; i++ {
		done := make(chan error, 1)
		go func() {
			_, err := a.Call(t.Context(), SendTool(), []byte(fmt.Sprintf(`{"task_id":%q,"text":%q}`, r.TaskID, text)))
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("send %d has not returned after 30 s", i+1)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "not reading its input") || !strings.Contains(err.Error(), "bytes typed earlier are still pending") {
				t.Fatalf("send %d: %v", i+1, err)
			}
			return
		}
		if i > 100 {
			t.Fatal("400 KB typed into a program that reads nothing, and no send refused")
		}
	}
}

// TestPromptOnStderrIsWaiting: the two most common prompts write to
// stderr (bash's read -p; Python's input() when its stdout is not the
// terminal it reads) and set waiting_for_input as a stdout prompt does,
// whichever stream is read.
func TestPromptOnStderrIsWaiting(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, c := range []struct{ name, command, prompt string }{
		{"bash read -p", `echo starting; read -p "Name? " name; echo "hi $name"`, "Name?"},
		{"python input", `python3 -c 'import sys; print("starting", flush=True); sys.stdout = sys.stderr; n = input("Your name: "); print("hi", n)'`, "Your name:"},
	} {
		if c.name == "python input" {
			if _, err := exec.LookPath("python3"); err != nil {
				t.Log("python3 not installed (Debian package python3): skipping its case")
				continue
			}
		}
		r := startTask(t, a, map[string]any{"command": c.command, "interactive": true})
		stderr := filepath.Join(a.Store.Dir, r.TaskID, "stderr")
		tasktest.WaitFor(t, c.name+": the prompt on stderr", func() bool { b, _ := os.ReadFile(stderr); return strings.Contains(string(b), c.prompt) })
		for _, stream := range []string{"both", "stdout", "stderr"} {
			var out OutputResult
			tasktest.WaitFor(t, c.name+": waiting_for_input reading "+stream, func() bool {
				out = call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"since":false,"stream":%q}`, r.TaskID, stream))
				return out.WaitingForInput
			})
			if stream != "stdout" && (out.Stderr == nil || !strings.Contains(*out.Stderr, c.prompt)) {
				t.Fatalf("%s: the prompt is reported but not shown: %+v", c.name, out)
			}
		}
		call[SendResult](t, a, SendTool(), fmt.Sprintf(`{"task_id":%q,"text":"ann"}`, r.TaskID))
		if task := tasktest.WaitEnd(t, a.Store, r.TaskID); task.Status != "completed" {
			t.Fatalf("%s: ended %s", c.name, task.Status)
		}
	}
}

// Once a prompt on stderr is answered the task is no longer waiting, even
// while it runs on quietly: the echo of the answer and what follows go to
// stdout, so the prompt's line on stderr never ends. (It stayed "waiting",
// and an agent typed its answer twice.)
func TestAnsweredStderrPromptIsNotWaiting(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `read -p "Continue? [y/N] " a; echo "got $a"; exec sleep 60`, "interactive": true})
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	read := func() OutputResult {
		return call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"since":false}`, r.TaskID))
	}
	tasktest.WaitFor(t, "waiting_for_input at the prompt", func() bool { return read().WaitingForInput })
	call[SendResult](t, a, SendTool(), fmt.Sprintf(`{"task_id":%q,"text":"y"}`, r.TaskID))
	stdout := filepath.Join(a.Store.Dir, r.TaskID, "stdout")
	tasktest.WaitFor(t, "the answer's effect on stdout, then a quiet stdout", func() bool {
		b, _ := os.ReadFile(stdout)
		return strings.Contains(string(b), "got y") && !capture.WrittenWithin(stdout, capture.PartialQuiet)
	})
	if out := read(); out.WaitingForInput {
		t.Fatalf("still waiting_for_input after the answer: %+v", out)
	}
}

// A prompt that bg_run's wait_for matched reaches the agent: in the
// start-up output, since no later read shows a prompt already delivered
// (a product trial saw it only in matched, and an empty stderr after).
func TestPromptMatchedByWaitForIsShown(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `read -p "Name? " name; echo "hi $name"`, "interactive": true, "wait_for": `Name\?`, "wait_seconds": 30})
	if r.WaitResult == nil || !r.Ready || r.Stderr == nil || !strings.Contains(*r.Stderr, "Name?") {
		t.Fatalf("bg_run with wait_for on a prompt: %+v", r)
	}
}
