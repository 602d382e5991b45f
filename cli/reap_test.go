package cli

import (
	"bytes"
	"context"
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
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// reap runs bg-reaper in-process and returns what it printed.
func reap(t *testing.T, a *toolbox.App, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	a.Stdout, a.Stderr = &out, &errOut
	if code := Run(context.Background(), a, "bg-reaper", append([]string{"reap"}, args...)); code != toolbox.ExitOK {
		t.Fatalf("bg-reaper %v: exit %d: %s", args, code, errOut.String())
	}
	return out.String()
}

// startTree starts a task running the 3-level helper tree and waits for
// the setsid grandchild.
func startTree(t *testing.T, a *toolbox.App, timeout float64) *supervisor.Task {
	t.Helper()
	// A label per cwd may run once: the test's trees differ by cwd.
	r := toolboxtest.StartTask(t, a, map[string]any{"command": helpers.Shell("tree"), "label": "tree", "cwd": t.TempDir(), "timeout": timeout})
	return tasktest.WaitTree(t, a.Store, r.TaskID)
}

func TestReaperKillsOrphansOfADeadSupervisor(t *testing.T) {
	t.Parallel()
	hook := filepath.Join(t.TempDir(), "hook-env")
	a := toolboxtest.NewApp(t, "BG_NOTIFY_CMD=env > "+hook)
	fresh := startTree(t, a, 0)
	task := startTree(t, a, 0)
	if err := procs.Signal(task.Watchdog, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the supervisor to die", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
	if n := len(tasktest.MarkerProcs(t, task.ID)); n < 3 {
		t.Fatalf("%d marker processes after the supervisor died, want the whole orphaned tree", n)
	}
	st := toolboxtest.Call[toolbox.TaskDetail](t, a, toolbox.StatusTool(), fmt.Sprintf(`{"task_id":%q}`, task.ID))
	if st.Status != supervisor.StatusRunning || !strings.HasPrefix(st.AutoKill, "NOT ENFORCED") {
		t.Fatalf("status of a task whose supervisor died: %s, auto_kill %q", st.Status, st.AutoKill)
	}

	// Nobody enforces its timeout (none): --max-age does, not before.
	if out := reap(t, a, "--dry-run"); out != "" {
		t.Fatalf("a young orphan without timeout is reaped before --max-age: %q", out)
	}
	dry := reap(t, a, "--dry-run", "--max-age", "0")
	if !strings.Contains(dry, "Would kill: "+task.ID) || strings.Contains(dry, fresh.ID) {
		t.Fatalf("dry run printed %q", dry)
	}
	if n := len(tasktest.MarkerProcs(t, task.ID)); n < 3 {
		t.Fatal("dry run killed processes")
	}

	out := reap(t, a, "--max-age", "0")
	if !strings.Contains(out, "Reaped "+task.ID) || strings.Count(out, "\n") != 1 {
		t.Fatalf("reaper printed %q", out)
	}
	if left := tasktest.MarkerProcs(t, task.ID); len(left) != 0 {
		t.Fatalf("orphans still alive: %v", left)
	}
	if got, _ := a.Store.Load(task.ID); got.Status != supervisor.StatusReaped {
		t.Fatalf("status %s, want reaped", got.Status)
	}
	// The fresh task, supervised and young, is untouched.
	if got, _ := a.Store.Load(fresh.ID); got.Status != supervisor.StatusRunning || len(tasktest.MarkerProcs(t, fresh.ID)) < 3 {
		t.Fatalf("fresh task disturbed: %s", got.Status)
	}
	// With no supervisor left, the reaper itself tells the user.
	env := tasktest.ReadFile(t, hook)
	for _, want := range []string{"BG_TASK_ID=" + task.ID, "BG_TASK_STATUS=reaped", "BG_TASK_LABEL=tree", "BG_TASK_LAST_LINE=leaf "} {
		if !strings.Contains(env, want) {
			t.Errorf("hook environment lacks %q:\n%s", want, env)
		}
	}
	if again := reap(t, a); again != "" {
		t.Fatalf("second run printed %q, want nothing", again)
	}
}

// A supervised task follows its own timeout: neither a permanent one
// (timeout=0) nor a long build (timeout=240) is reaped for its age; only
// one its supervisor let run far past its timeout is. Old records go.
func TestReaperAgesAndCleans(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	forever := startTree(t, a, 0)
	build := startTree(t, a, 240)
	overdue := startTree(t, a, 60)
	done := toolboxtest.StartTask(t, a, map[string]any{"command": "echo done"})
	tasktest.WaitEnd(t, a.Store, done.TaskID)
	// Four hours pass (for the reaper: the supervisors' timers run on).
	later := time.Now().Add(4 * time.Hour)
	a.Now = func() time.Time { return later }

	before := tasktest.SnapshotDir(t, a.Store.Dir)
	dry := reap(t, a, "--dry-run", "--max-age", "180")
	if !strings.Contains(dry, "Would kill: "+overdue.ID) || !strings.Contains(dry, "Would clean: "+done.TaskID) {
		t.Fatalf("dry run printed %q", dry)
	}
	if strings.Contains(dry, forever.ID) || strings.Contains(dry, build.ID) {
		t.Fatalf("dry run would kill a task within its own timeout: %q", dry)
	}
	if after := tasktest.SnapshotDir(t, a.Store.Dir); after != before {
		t.Fatal("dry run changed the state folder")
	}

	out := reap(t, a, "--max-age", "180")
	if !strings.Contains(out, "Reaped "+overdue.ID) || !strings.Contains(out, "Cleaned "+done.TaskID) || strings.Count(out, "\n") != 2 {
		t.Fatalf("reaper printed %q", out)
	}
	got, err := a.Store.Load(overdue.ID)
	if err != nil || got.Status != supervisor.StatusReaped {
		t.Fatalf("overdue task: %v %v", got, err)
	}
	// Recorded by its own supervisor, the single writer, not by the reaper.
	if log := tasktest.ReadFile(t, filepath.Join(got.Dir, supervisor.FileSupervisorLog)); !strings.Contains(log, "user defined signal 1: killing the tree") {
		t.Errorf("supervisor log: %q", log)
	}
	if left := tasktest.MarkerProcs(t, overdue.ID); len(left) != 0 {
		t.Fatalf("still alive: %v", left)
	}
	for _, kept := range []*supervisor.Task{forever, build} {
		if got, _ := a.Store.Load(kept.ID); got.Status != supervisor.StatusRunning || len(tasktest.MarkerProcs(t, kept.ID)) < 3 {
			t.Fatalf("%s (timeout %s) disturbed: %s", kept.ID, kept.Timeout, got.Status)
		}
	}
	if _, err := os.Stat(filepath.Join(a.Store.Dir, done.TaskID)); !os.IsNotExist(err) {
		t.Fatal("finished task not removed")
	}
}

// A task whose supervisor and command are gone, with a recorded PID now
// used by an unrelated process, is recorded killed and the process is
// left alone.
func TestReaperLeavesReusedPIDAlone(t *testing.T) {
	t.Parallel()
	hooks := t.TempDir()
	a := toolboxtest.NewApp(t, `BG_NOTIFY_CMD=env > "`+hooks+`/$BG_TASK_ID"`)
	stranger := exec.Command(os.Args[0])
	stranger.Env = append(os.Environ(), helpers.EnvFor("hang"))
	out, _ := stranger.StdoutPipe()
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stranger.Process.Kill(); _ = stranger.Wait() })
	if _, err := out.Read(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	real, _ := procs.Lookup(context.Background(), stranger.Process.Pid)
	id := "task-1700000000-reused"
	dir := filepath.Join(a.Store.Dir, id)
	_ = os.MkdirAll(dir, 0o700)
	pid, stale := strconv.Itoa(real.PID), strconv.FormatInt(real.Start-3_600_000, 10)
	for name, v := range map[string]string{
		"command": "sleep 1000", "status": "running", "started_at": time.Now().UTC().Format(supervisor.TimeLayout), "cwd": "/",
		"pid": pid, "pid_start_ms": stale, "watchdog_pid": pid, "watchdog_start_ms": stale,
	} {
		_ = os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600)
	}
	got := reap(t, a)
	if !strings.Contains(got, "Marked "+id+" (") || !strings.Contains(got, "killed") {
		t.Fatalf("reaper printed %q", got)
	}
	if !procs.Alive(context.Background(), real) {
		t.Fatal("the unrelated process was killed")
	}
	if task, _ := a.Store.Load(id); task.Status != supervisor.StatusKilled {
		t.Fatalf("status %s, want killed", task.Status)
	}
	// Dying unseen is a failure: told in the default mode, unlike a stop.
	if b, err := os.ReadFile(filepath.Join(hooks, id)); err != nil || !strings.Contains(string(b), "BG_TASK_STATUS=killed") {
		t.Errorf("no notification of a task found dead: %v %s", err, b)
	}
}

// The supervisor records the outcome, then runs the notification hook
// with the task's fields; success is silent by default.
func TestSupervisorNotifiesFailureOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := toolboxtest.NewApp(t, `BG_NOTIFY_CMD=env > "`+dir+`/$BG_TASK_ID"`)
	fail := toolboxtest.StartTask(t, a, map[string]any{"command": `printf 'compiling\n\033[31merror: x.go:3: undefined: y\033[0m\n\n'; exit 2`, "label": "build"})
	ok := toolboxtest.StartTask(t, a, map[string]any{"command": "echo fine", "label": "quick"})
	always := toolboxtest.StartTask(t, a, map[string]any{"command": "echo fine", "label": "loud", "notify": "always"})
	// A stop the user asked for is no failure (a product trial got a
	// "killed" notification for every bg_stop and replace=true).
	stopped := toolboxtest.StartTask(t, a, map[string]any{"command": "exec sleep 60", "label": "stopped"})
	if _, err := a.Call(context.Background(), toolbox.StopTool(), []byte(`{"task_id":"`+stopped.TaskID+`"}`)); err != nil {
		t.Fatal(err)
	}
	// Nor is a clean exit that restart=always runs again.
	loop := toolboxtest.StartTask(t, a, map[string]any{"command": "echo ok", "label": "loop", "restart": "always", "max_restarts": 1, "backoff_seconds": 0.1})
	for _, id := range []string{fail.TaskID, ok.TaskID, always.TaskID, stopped.TaskID, loop.TaskID} {
		tasktest.WaitEnd(t, a.Store, id)
	}
	var env string
	tasktest.WaitFor(t, "the hook of the failed task", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, fail.TaskID))
		env = string(b)
		return err == nil && strings.Contains(env, "BG_TASK_LAST_LINE")
	})
	for _, want := range []string{"BG_TASK_STATUS=failed", "BG_TASK_EXIT_CODE=2", "BG_TASK_LABEL=build", "BG_TASK_LAST_LINE=error: x.go:3: undefined: y\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("hook environment lacks %q:\n%s", want, env)
		}
	}
	tasktest.WaitFor(t, "the hook of the notify=always task", func() bool {
		_, err := os.Stat(filepath.Join(dir, always.TaskID))
		return err == nil
	})
	// Hooks run before the supervisor exits; the quick task's supervisor is gone.
	task, _ := a.Store.Load(ok.TaskID)
	tasktest.WaitFor(t, "the quick task's supervisor to exit", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
	if _, err := os.Stat(filepath.Join(dir, ok.TaskID)); err == nil {
		t.Fatal("a successful task notified with the default mode")
	}
	st, _ := a.Store.Load(stopped.TaskID)
	tasktest.WaitFor(t, "the stopped task's supervisor to exit", func() bool { return !procs.Alive(context.Background(), st.Watchdog) })
	if _, err := os.Stat(filepath.Join(dir, stopped.TaskID)); err == nil {
		t.Fatal("a task stopped by bg_stop notified with the default mode")
	}
	lt, _ := a.Store.Load(loop.TaskID)
	tasktest.WaitFor(t, "the loop's supervisor to exit", func() bool { return !procs.Alive(context.Background(), lt.Watchdog) })
	if lt.Restarts != 1 || lt.Status != supervisor.StatusCompleted {
		t.Fatalf("loop: %d restarts, %s; want 1, completed", lt.Restarts, lt.Status)
	}
	if _, err := os.Stat(filepath.Join(dir, loop.TaskID)); err == nil {
		t.Fatal("a clean exit run again by restart=always notified with the default mode")
	}
}

func TestReaperHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	out := reap(t, a, "--help")
	if !strings.HasPrefix(out, "Usage: bg-reaper") {
		t.Fatalf("bg-reaper --help starts %.40q, want Usage: as most tools print it", out)
	}
	for _, want := range []string{"Usage: bg-reaper", "--max-age", "--dry-run", "--quiet"} {
		if !strings.Contains(out, want) {
			t.Fatalf("bg-reaper --help printed %q, missing %q", out, want)
		}
	}
	if strings.Contains(out, "\n  -max-age") {
		t.Fatalf("single-dash flag in help: %q", out)
	}
}

// A negative --max-age says what is wrong, not only the usage (a product
// trial found it printed the usage alone).
func TestReapNegativeMaxAgeSaysWhy(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	var out, errOut bytes.Buffer
	a.Stdout, a.Stderr = &out, &errOut
	if code := Run(context.Background(), a, "bgtask", []string{"reap", "--max-age", "-1"}); code != toolbox.ExitError || !strings.Contains(errOut.String(), "--max-age must be at least 0 minutes, got -1") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// A huge --max-age means "never", not a negative age that would remove
// every task at once; NaN is refused.
func TestReaperMaxAgeBeyondRange(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	done := toolboxtest.StartTask(t, a, map[string]any{"command": "echo done"})
	tasktest.WaitEnd(t, a.Store, done.TaskID)
	for _, maxAge := range []string{"1e9", "inf"} {
		if out := reap(t, a, "--max-age", maxAge); out != "" {
			t.Errorf("--max-age %s printed %q, want nothing done", maxAge, out)
		}
	}
	if _, err := a.Store.Load(done.TaskID); err != nil {
		t.Fatalf("after a huge --max-age: %v", err)
	}
	var errOut bytes.Buffer
	a.Stdout, a.Stderr = &bytes.Buffer{}, &errOut
	if code := Run(context.Background(), a, "bg-reaper", []string{"reap", "--max-age", "nan"}); code == toolbox.ExitOK || !strings.Contains(errOut.String(), "--max-age") {
		t.Errorf("--max-age nan: exit %d, %q", code, errOut.String())
	}
}
