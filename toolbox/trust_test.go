package toolbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// What a task may reach and what the state folder must be: the command inherits only stdio; a state folder or task folder others could write is refused.

// The command gets exactly stdin, stdout and stderr: not the supervisor's
// PTY masters, not bg_run's readiness pipe, not what bg_run's caller left
// open without close-on-exec.
func TestCommandInheritsOnlyStdio(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	// A descriptor the caller leaks: opened without close-on-exec.
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": `ls /proc/$$/fd; true`})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	out := tasktest.ReadFile(t, filepath.Join(task.Dir, "stdout"))
	if strings.Join(strings.Fields(out), " ") != "0 1 2" { // ls prints columns on a terminal
		t.Fatalf("the command's descriptors: %q", out)
	}
}

func TestUntrustedStateRefused(t *testing.T) {
	t.Parallel()
	t.Run("world-writable state folder", func(t *testing.T) {
		a := newTestApp(t)
		if err := os.MkdirAll(a.Store.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		victim, _ := plantVictim(t, a.Store.Dir)
		if err := os.Chmod(a.Store.Dir, 0o777); err != nil {
			t.Fatal(err)
		}
		actions, _, err := a.Reap(context.Background(), time.Hour, false)
		if err == nil || len(actions) != 0 {
			t.Fatalf("reaper accepted a world-writable state folder: %v", actions)
		}
		if !strings.Contains(err.Error(), "chmod 700") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("reaper said %q; want one line saying how to fix it", err)
		}
		if _, err := a.Call(context.Background(), StatusTool(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Fatalf("bg_status on a world-writable state folder: %v", err)
		}
		if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("the victim was signalled: %v", err)
		}
		_ = os.Chmod(a.Store.Dir, 0o700) // So the cleanup can list it.
	})
	t.Run("planted task folder", func(t *testing.T) {
		a := newTestApp(t)
		if err := os.MkdirAll(a.Store.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		victim, taskDir := plantVictim(t, a.Store.Dir)
		if os.Getuid() == 0 {
			if err := os.Chown(taskDir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Chmod(taskDir, 0o777); err != nil {
			t.Fatal(err)
		}
		out := reap(t, a)
		if out != "" {
			t.Fatalf("reaper acted on a planted task: %q", out)
		}
		l := call[StatusList](t, a, StatusTool(), `{}`)
		if len(l.Tasks) != 0 {
			t.Fatalf("a planted task is listed: %+v", l.Tasks)
		}
		if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("the victim was signalled: %v", err)
		}
		_ = os.RemoveAll(taskDir) // Not ours to end in the cleanup.
	})
}

// plantVictim starts a process the test owns and plants, in dir, a task
// folder whose records name it as a running task's command, started long
// ago, with its supervisor gone: what a hostile local user could write
// into a shared state folder to make the reaper signal someone else.
func plantVictim(t *testing.T, dir string) (victim *exec.Cmd, taskDir string) {
	t.Helper()
	victim = exec.Command(os.Args[0])
	victim.Env = append(os.Environ(), helpers.EnvFor("hang"))
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = victim.Process.Kill(); _ = victim.Wait() })
	var p procs.Proc
	tasktest.WaitFor(t, "the victim", func() bool {
		var err error
		p, err = procs.Lookup(context.Background(), victim.Process.Pid)
		return err == nil
	})
	taskDir = filepath.Join(dir, "task-1600000000-planted1")
	if err := os.MkdirAll(taskDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"status": "running", "command": "sleep 1", "pid": fmt.Sprint(p.PID), "pid_start_ms": fmt.Sprint(p.Start),
		"watchdog_pid": "999999", "watchdog_start_ms": "1", "started_at": "2020-09-13T12:26:40Z", "timeout": "1",
	} {
		if err := os.WriteFile(filepath.Join(taskDir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return victim, taskDir
}
