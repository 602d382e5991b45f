//go:build linux

package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noDesktop is an environment without a session bus, so that the hook
// tests exercise the hook alone and never pop a real notification. That
// holds on Linux only (elsewhere beeep ignores the environment), hence the
// build constraint.
func noDesktop() []string {
	return []string{"PATH=" + os.Getenv("PATH")}
}

func TestHookEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	n := &Notifier{
		Command: `env > "$OUT"`,
		Env:     append(noDesktop(), "OUT="+out),
		Timeout: slowBox,
	}
	ev := Event{TaskID: "k3x9", Label: "tests", Command: "go test ./...", Status: "failed",
		ExitCode: intp(1), Duration: 42 * time.Second, LastLine: "FAIL pkg 0.1s"}
	sent, err := n.Notify(context.Background(), ev)
	if !sent {
		t.Errorf("sent = false, want true (the hook ran)")
	}
	if !errors.Is(err, ErrNoSessionBus) || strings.Contains(err.Error(), "BG_NOTIFY_CMD") {
		t.Errorf("err = %v, want only the desktop's ErrNoSessionBus", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		got[k] = v
	}
	for k, v := range map[string]string{
		"BG_TASK_ID":        "k3x9",
		"BG_TASK_LABEL":     "tests",
		"BG_TASK_STATUS":    "failed",
		"BG_TASK_EXIT_CODE": "1",
		"BG_TASK_LAST_LINE": "FAIL pkg 0.1s",
		"BG_TASK_COMMAND":   "go test ./...",
		"BG_NOTIFY_TITLE":   "✗ tests failed (exit 1)",
	} {
		if got[k] != v {
			t.Errorf("hook saw %s=%q, want %q", k, got[k], v)
		}
	}
}

func TestHookNotRunWhenModeSaysNo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode   Mode
		status string
	}{{ModeFailure, "completed"}, {ModeFailure, "killed"}, {ModeNever, "failed"}} {
		marker := filepath.Join(t.TempDir(), "ran")
		n := &Notifier{Mode: tt.mode, Command: `touch "$M"`, Env: append(noDesktop(), "M="+marker)}
		sent, err := n.Notify(context.Background(), Event{Label: "x", Status: tt.status, ExitCode: intp(0)})
		if sent || err != nil {
			t.Errorf("mode %q, status %q: Notify = %v, %v; want false, nil", tt.mode, tt.status, sent, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("mode %q, status %q: the hook ran", tt.mode, tt.status)
		}
	}
}

func TestHookFailure(t *testing.T) {
	t.Parallel()
	n := &Notifier{Command: `echo "ntfy: no such topic" >&2; exit 7`, Env: noDesktop(), Timeout: slowBox}
	sent, err := n.Notify(context.Background(), Event{Label: "x", Status: "timeout"})
	if sent {
		t.Errorf("sent = true with no desktop and a failing hook")
	}
	if err == nil || !strings.Contains(err.Error(), "BG_NOTIFY_CMD: exit status 7") ||
		!strings.Contains(err.Error(), "ntfy: no such topic") {
		t.Errorf("err = %v, want the hook's exit status and output", err)
	}
}

// TestHookHangs runs a hook that hangs and starts a child that hangs too:
// both must be killed at the timeout, and Notify must come back with an
// error saying so.
func TestHookHangs(t *testing.T) {
	t.Parallel()
	// The shell writes its PIDs before it waits; on a loaded box it may not
	// get that far within a short timeout, so the test tries longer ones
	// until it does.
	for timeout := 500 * time.Millisecond; ; timeout *= 4 {
		dir := t.TempDir()
		n := &Notifier{
			Command: `sleep 300 & echo $! > "$D/child"; echo $$ > "$D/shell"; wait`,
			Env:     append(noDesktop(), "D="+dir),
			Timeout: timeout,
		}
		start := time.Now()
		_, err := n.Notify(context.Background(), Event{Label: "x", Status: "failed"})
		elapsed := time.Since(start)
		t.Logf("Notify returned after %v: %v", elapsed, err)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "BG_NOTIFY_CMD: killed") {
			t.Errorf("err = %v, want BG_NOTIFY_CMD killed, wrapping context.DeadlineExceeded", err)
		}
		if elapsed > timeout+10*time.Second {
			t.Errorf("Notify took %v with a %v timeout", elapsed, timeout)
		}
		if _, err := os.Stat(filepath.Join(dir, "shell")); err != nil {
			if timeout >= 8*time.Second {
				t.Fatalf("the hook did not write its PIDs within %v: %v", timeout, err)
			}
			t.Logf("the hook did not write its PIDs within %v; again with a longer timeout", timeout)
			continue
		}
		for _, name := range []string{"shell", "child"} {
			pid := readPID(t, filepath.Join(dir, name))
			waitGone(t, name, pid)
		}
		return
	}
}

func TestHookBackgroundChildKilledAfterExit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := &Notifier{
		Command: `sleep 300 > /dev/null 2>&1 & echo $! > "$D/child"`,
		Env:     append(noDesktop(), "D="+dir),
		Timeout: slowBox,
	}
	_, err := n.Notify(context.Background(), Event{Label: "x", Status: "failed"})
	if err != nil && strings.Contains(err.Error(), "BG_NOTIFY_CMD") {
		t.Errorf("err = %v, want the hook to succeed", err)
	}
	waitGone(t, "child", readPID(t, filepath.Join(dir, "child")))
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until pid no longer runs: gone, or a zombie waiting for a
// parent (in a container, PID 1 may never reap an orphan). If it is still
// running at the deadline the test fails and the process is killed, so that
// the test leaves nothing behind either way.
func waitGone(t *testing.T, name string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if !running(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still runs", name, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL) // Best effort: cleanup of a failed test.
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // No /proc (macOS): the signal is all we know.
	}
	// The state follows the parenthesized command name.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// TestHookCanceled checks that the caller's context ends a hook too, not
// only Timeout.
func TestHookCanceled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		Command: `echo $$ > "$D/shell"; exec sleep 300`,
		Env:     append(noDesktop(), "D="+dir),
		Timeout: time.Hour,
	}
	go func() {
		// Cancel once the hook runs; give up polling with the test.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(filepath.Join(dir, "shell")); err == nil && len(b) > 0 {
				break
			}
		}
		cancel()
	}()
	_, err := n.Notify(ctx, Event{Label: "x", Status: "failed"})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "BG_NOTIFY_CMD: killed") {
		t.Errorf("err = %v, want BG_NOTIFY_CMD killed, wrapping context.Canceled", err)
	}
	waitGone(t, "hook", readPID(t, filepath.Join(dir, "shell")))
}
