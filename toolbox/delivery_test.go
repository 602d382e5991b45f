package toolbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// failingWriter is a stdout whose reader is gone.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// An answer that cannot be delivered moves no cursor: over the toolbox
// protocol when stdout fails, and for a caller over ssh that is gone
// before it says it has the answer. One that says so keeps the move.
func TestUndeliveredAnswerKeepsTheCursor(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "AMP_THREAD_ID=", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID=")
	r := startTask(t, a, map[string]any{"command": "echo one; echo two"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	params := fmt.Sprintf(`{"task_id":%q,"stream":"stdout"}`, r.TaskID)
	serve := func(stdin string, stdout interface{ Write([]byte) (int, error) }, env ...string) {
		t.Helper()
		b := *a
		b.Getenv = EnvGetter(append(append([]string{}, a.Environ...), env...))
		b.Stdin, b.Stdout = strings.NewReader(stdin), stdout
		b.ServeToolbox(t.Context(), OutputTool(), "execute")
	}
	next := func() string {
		t.Helper()
		return deref(call[OutputResult](t, a, OutputTool(), params).Stdout)
	}
	serve(params, failingWriter{})
	if got := next(); got != "one\ntwo" {
		t.Errorf("after an answer nobody got (stdout failed): %q, want the lines again", got)
	}
	write("three", r, a, t)
	var out bytes.Buffer
	serve(params+"\n", &out, remote.CallerEnv+"="+remote.CallerSSH) // stdin ends: no ack.
	if !strings.Contains(out.String(), "three") {
		t.Fatalf("the answer over ssh: %s", out.String())
	}
	if got := next(); got != "three" {
		t.Errorf("after an answer over ssh that was never acknowledged: %q, want the line again", got)
	}
	write("four", r, a, t)
	out.Reset()
	serve(params+"\n"+remote.CallAck+"\n", &out, remote.CallerEnv+"="+remote.CallerSSH)
	if got := next(); !strings.Contains(out.String(), "four") || got != "" {
		t.Errorf("after an acknowledged answer (%s), the next read: %q, want nothing new", out.String(), got)
	}
}

// write appends a line to the ended task's stdout, as more output.
func write(line string, r RunResult, a *App, t *testing.T) {
	t.Helper()
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(task.Dir, "stdout"), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// A tool run for a caller over ssh stops waiting on SIGHUP (a hung-up
// session) or when its stdin ends (the caller gone), long before its
// wait_seconds, and moves no cursor.
func TestSSHCallerToolStopsWithItsCaller(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "AMP_THREAD_ID=", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID=")
	r := startTask(t, a, map[string]any{"command": "echo first; exec sleep 600"})
	tasktest.WaitFor(t, "the first line", func() bool {
		task, err := a.Store.Load(r.TaskID)
		b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
		return err == nil && strings.Contains(string(b), "first")
	})
	for _, how := range []string{"SIGHUP", "stdin closed"} {
		c := exec.Command(os.Args[0])
		c.Env = append(append([]string{}, a.Environ...), "BGTEST_MAIN_AS=bg-output", "TOOLBOX_ACTION=execute",
			remote.CallerEnv+"="+remote.CallerSSH, "TASKS_DIR="+a.Store.Dir)
		stdin, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		c.Stdout = &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// Waits for a line that never comes.
		fmt.Fprintf(stdin, `{"task_id":%q,"filter":"never printed","wait_seconds":600}`+"\n", r.TaskID)
		time.Sleep(300 * time.Millisecond) // Into its wait; earlier, it never reads at all.
		// A test run with SIGHUP ignored (under nohup) passes that on to
		// the tool, until it listens for SIGHUP: one sent before is lost.
		tasktest.WaitFor(t, "the tool to listen for SIGHUP", func() bool { return !ignores(c.Process.Pid, syscall.SIGHUP) })
		start := time.Now()
		if how == "SIGHUP" {
			_ = c.Process.Signal(syscall.SIGHUP)
		} else {
			_ = stdin.Close()
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
			t.Logf("%s: ended %v after, answering %s", how, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out.String()))
		case <-time.After(30 * time.Second):
			_ = c.Process.Kill()
			t.Fatalf("%s: the tool still waits 30 s later", how)
		}
		_ = stdin.Close()
	}
	if got := deref(call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID)).Stdout); got != "first" {
		t.Errorf("the next since-read: %q, want the line the stopped tools did not deliver", got)
	}
}

// ignores reports whether process pid ignores sig (its SigIgn mask in
// /proc); false once it has exited, or where /proc cannot say.
func ignores(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && mask&(1<<(sig-1)) != 0
		}
	}
	return false
}

// A read made again (readOnce, when a restart moved the folder away)
// undoes its attempt's cursor moves, not the call's other ones; the
// call's record holds the attempt's moves too, so an answer not
// delivered puts back what the read made again took.
func TestAnAttemptsMovesAreTheCalls(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "AMP_THREAD_ID=", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID=")
	r := startTask(t, a, map[string]any{"command": "echo one; echo two >&2"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	read := func(ctx context.Context, stream string) string {
		t.Helper()
		res, err := readAttempt(ctx, a, OutputInput{TaskID: r.TaskID, Stream: stream, Since: true})
		if err != nil {
			t.Fatal(err)
		}
		if stream == "stdout" {
			return deref(res.Stdout)
		}
		return deref(res.Stderr)
	}
	ctx, call := WithDelivery(t.Context())
	if got := read(ctx, "stderr"); got != "two" { // the call's, before the attempt
		t.Fatalf("stderr: %q", got)
	}
	actx, attempt := withAttempt(ctx)
	if got := read(actx, "stdout"); got != "one" {
		t.Fatalf("stdout: %q", got)
	}
	attempt.Undo()
	if got := read(actx, "stderr"); got != "" {
		t.Errorf("stderr after the attempt was undone: %q, want nothing new: the call's own move stays", got)
	}
	if got := read(actx, "stdout"); got != "one" {
		t.Errorf("stdout read again after the attempt was undone: %q, want the line again", got)
	}
	call.Undo()
	if got := read(t.Context(), "stdout"); got != "one" {
		t.Errorf("stdout after the call was undone: %q, want the line again: the attempt's move is the call's", got)
	}
	if got := read(t.Context(), "stderr"); got != "two" {
		t.Errorf("stderr after the call was undone: %q, want the line again", got)
	}
}

// A read cut short by a restart (its folder moved aside) undoes its
// attempt's moves once the folder is back: the cursors are in it, and an
// undo while it is away finds none (a trial's finding: the reader lost
// the lines the cut-short attempt had passed).
func TestACutShortReadIsUndoneOnceTheFolderIsBack(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "AMP_THREAD_ID=", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID=")
	r := startTask(t, a, map[string]any{"command": "echo one"})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	in := OutputInput{TaskID: r.TaskID, Stream: "stdout", Since: true}
	actx, attempt := withAttempt(t.Context())
	if res, err := readAttempt(actx, a, in); err != nil || deref(res.Stdout) != "one" {
		t.Fatalf("the attempt: %+v, %v", res, err)
	}
	// As a restart does: the folder moves aside, and back a moment later.
	staging := filepath.Join(a.Store.Dir, ".staging-"+r.TaskID)
	if err := os.Rename(task.Dir, staging); err != nil {
		t.Fatal(err)
	}
	back := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // The new run's start, as seen by the reader.
		back <- os.Rename(staging, task.Dir)
	}()
	if err := a.undoWhenBack(r.TaskID, attempt); err != nil {
		t.Fatalf("the task while its folder came back: %v", err)
	}
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	if res, err := readAttempt(t.Context(), a, in); err != nil || deref(res.Stdout) != "one" {
		t.Errorf("the read made again: %q, %v; want the line the cut-short attempt had passed", deref(res.Stdout), err)
	}
}
