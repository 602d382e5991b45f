package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Cleanup racing readers: the task vanishes whole, the cleanup succeeds,
// and readers answer either output or "no such task".
func TestCleanupRacingReads(t *testing.T) {
	t.Parallel()
	for round := 0; round < 5; round++ {
		a := newTestApp(t)
		r := startTask(t, a, map[string]any{"command": "seq 1 20000"})
		waitEnd(t, a, r.TaskID)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 100)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					params := fmt.Sprintf(`{"task_id":%q,"max_lines":5}`, r.TaskID)
					ctx := WithReader(context.Background(), fmt.Sprintf("reader-%d-%d", g, i%3))
					_, err := a.Call(ctx, OutputTool(), []byte(params))
					var in *InputError
					if err != nil && !(errors.As(err, &in) && strings.Contains(err.Error(), "no such task")) {
						errs <- err
						return
					}
				}
			}()
		}
		res := call[CleanupResult](t, a, StopTool(), `{"action":"cleanup"}`)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("a reader racing the cleanup failed: %v", err)
		}
		if res.Cleaned != 1 {
			t.Fatalf("cleanup: %+v", res)
		}
		left, _ := os.ReadDir(a.Store.Dir)
		for _, e := range left {
			if e.Name() != ".notices" {
				t.Fatalf("left in the state folder after cleanup: %s", e.Name())
			}
		}
	}
}

// A stop that arrives after the command exited on its own, before its
// supervisor recorded the end, records what really happened: failed with
// the command's exit code 3, not killed.
func TestStopAfterNaturalExit(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for i := 0; i < 10; i++ {
		r := startTask(t, a, map[string]any{"command": "exit 3"})
		task, err := a.Store.Load(r.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the command to exit", func() bool { return !procs.Alive(context.Background(), task.Root) })
		if _, err := a.Call(context.Background(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID))); err != nil {
			t.Fatal(err)
		}
		task = waitEnd(t, a, r.TaskID)
		if task.Status != "failed" || task.ExitCode == nil || *task.ExitCode != 3 {
			t.Fatalf("run %d: recorded %s, exit code %v; want failed, 3", i, task.Status, task.ExitCode)
		}
	}
}

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
	task := waitEnd(t, a, r.TaskID)
	out := tasktest.ReadFile(t, filepath.Join(task.Dir, "stdout"))
	if strings.Join(strings.Fields(out), " ") != "0 1 2" { // ls prints columns on a terminal
		t.Fatalf("the command's descriptors: %q", out)
	}
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
	waitFor(t, "the victim", func() bool {
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

// Folders made by the original tool, by hand or by scripts: status and
// stdout are enough to be a task, listed, read, stopped and cleaned, with
// times taken from the id and no invented finished_at.
func TestLegacyFoldersAreTasks(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	started := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	mk := func(id, status string) string {
		dir := filepath.Join(a.Store.Dir, id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"status": status + "\n", "stdout": "hello from " + id + "\nERROR: it broke\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	done := mk(fmt.Sprintf("task-%d-legacy01", started.Unix()), "completed")
	running := mk(fmt.Sprintf("task-%d-legacy02", started.Unix()), "running")

	l := call[StatusList](t, a, StatusTool(), `{}`)
	if len(l.Tasks) != 2 {
		t.Fatalf("listed %d legacy tasks, want 2: %+v", len(l.Tasks), l.Tasks)
	}
	for _, s := range l.Tasks {
		if s.StartedAt != started.UTC().Format(supervisor.TimeLayout) || !strings.HasPrefix(s.Age, "2h") {
			t.Fatalf("%s: started_at %s, age %s; want the id's time, 2h ago", s.TaskID, s.StartedAt, s.Age)
		}
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"filter":"error"}`, done))
	if out.Stdout == nil || *out.Stdout != "ERROR: it broke" {
		t.Fatalf("bg_output of a legacy task: %+v", out)
	}
	// A legacy running task with no process recorded has ended: it is
	// recorded so, without an invented finished_at.
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, running))
	if d.Status == supervisor.StatusRunning || d.FinishedAt != "" {
		t.Fatalf("legacy running task: status %s, finished_at %q", d.Status, d.FinishedAt)
	}
	if _, err := os.Stat(filepath.Join(a.Store.Dir, running, "finished_at")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("finished_at invented: %v", err)
	}
	// The reaper ages them by their id: both are older than an hour.
	if out := reap(t, a, "--max-age", "60"); strings.Count(out, "Cleaned") != 2 {
		t.Fatalf("reaper --max-age 60 on 2h-old legacy tasks printed %q", out)
	}
}

// A full disk: the supervisor keeps draining the terminal (the command
// never blocks on it), still enforces the timeout, records the outcome
// within seconds and what it could not write, and the reading tools keep
// answering. With small segments it frees a rotated one; with the default
// 10 MB segments the first one fills the disk, and it frees that one,
// leaving a line that marks the gap.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
		gap  bool // the current segment had to go
	}{
		{"small segments", []string{"BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=40"}, false},
		{"first segment", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestApp(t, tc.env...)
			mountTmpfs(t, a)
			r := startTask(t, a, map[string]any{"command": "yes 'a line that fills the disk, over and over'", "timeout": 0.05})
			task := waitEnd(t, a, r.TaskID)
			t.Logf("outcome recorded %s after the deadline", time.Since(task.Deadline()).Round(100*time.Millisecond))
			waitFor(t, "the supervisor to exit", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
			if task.Status != supervisor.StatusTimeout {
				t.Fatalf("status %s, want timeout: the timeout must hold on a full disk", task.Status)
			}
			if !strings.Contains(task.CaptureError, "no space left on device") || !strings.Contains(task.CaptureError, "bytes dropped") {
				t.Fatalf("capture_error %q", task.CaptureError)
			}
			l := call[StatusList](t, a, StatusTool(), `{}`)
			if len(l.Tasks) != 1 || l.Tasks[0].CaptureError == "" {
				t.Fatalf("bg_status list on a full disk: %+v", l)
			}
			out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
			if out.Stdout == nil || !strings.Contains(*out.Stdout, "[... capture failed") {
				t.Fatalf("bg_output does not say output is missing: %+v", out)
			}
			if gap := strings.Contains(*out.Stdout, capture.GapMarker); gap != tc.gap {
				t.Fatalf("gap marked: %v, want %v:\n%s", gap, tc.gap, *out.Stdout)
			}
			call[CleanupResult](t, a, StopTool(), `{"action":"cleanup"}`)
		})
	}
}

// A disk filled by someone else, where freeing the task's own logs does
// not help: bg_stop kills the tree and says the outcome is not recorded,
// instead of failing after its wait; bg_status says so too; the
// supervisor records it once space is freed.
func TestStopOnAFullDisk(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	mountTmpfs(t, a)
	r := startTask(t, a, map[string]any{"command": helpers.Shell("hang") + " >/dev/null", "timeout": 0})
	filler := filepath.Join(a.Store.Dir, "filler")
	fillDisk(t, filler, 0)
	began := time.Now()
	res, err := a.Call(t.Context(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID)))
	if err != nil {
		t.Fatalf("bg_stop on a full disk: %v", err)
	}
	t.Logf("bg_stop answered in %s", time.Since(began).Round(100*time.Millisecond))
	if msg := res.(StopResult).Message; !strings.Contains(msg, "tree killed; outcome not recorded: disk full") {
		t.Fatalf("bg_stop answered %q", msg)
	}
	if left := tasktest.MarkerProcs(t, r.TaskID); len(left) != 0 {
		t.Fatalf("still alive: %v", left)
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
	if !strings.Contains(d.AutoKill, "outcome not recorded: disk full") {
		t.Fatalf("bg_status: status %s, auto_kill %q", d.Status, d.AutoKill)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if task := waitEnd(t, a, r.TaskID); task.Status != supervisor.StatusKilled {
		t.Fatalf("recorded %s once space was freed, want killed", task.Status)
	}
}

// mountTmpfs puts a 2 MB tmpfs on the app's state folder until the test
// ends, or skips the test where that is not possible.
func mountTmpfs(t *testing.T, a *App) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: -short")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", a.Store.Dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a 2 MB tmpfs here (needs root; CI runs it): %v %s", err, out)
	}
	t.Cleanup(func() {
		// Runs after the test body, before newTestApp's cleanup: end
		// what is still running first (a supervisor finishing its
		// notification holds the folder), then unmount.
		tasktest.EndAll(t, a.Store)
		var out []byte
		var err error
		for range 50 {
			if out, err = exec.Command("umount", a.Store.Dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // Busy: a process is still closing its files.
		}
		t.Errorf("umount: %v %s", err, out)
		_ = exec.Command("umount", "-l", a.Store.Dir).Run() // Best effort: detach it at least.
	})
}

// floodTask starts a task writing as fast as it can, with small segments,
// and waits until it has rotated.
func floodTask(t *testing.T, a *App) *supervisor.Task {
	t.Helper()
	r := startTask(t, a, map[string]any{"command": "yes 'flooding the log'", "timeout": 0})
	waitFor(t, "a rotation", func() bool {
		names, _ := filepath.Glob(filepath.Join(a.Store.Dir, r.TaskID, "stdout-*"))
		return len(names) > 0
	})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestSupervisorKilledMidFlood(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=2")
	task := floodTask(t, a)
	if err := procs.Signal(task.Watchdog, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the supervisor to die", func() bool { return !procs.Alive(context.Background(), task.Watchdog) })
	// The command dies with its terminal when the supervisor does, or
	// lives on a moment as an orphan: either way the reaper says which.
	// An orphan younger than --max-age is left alone (the task has no
	// timeout of its own), so the reaper runs with --max-age 0.
	if out := reap(t, a, "--max-age", "0"); !strings.Contains(out, "Reaped "+task.ID) && !strings.Contains(out, "Marked "+task.ID+" ") {
		t.Fatalf("reaper printed %q", out)
	}
	if left := tasktest.MarkerProcs(t, task.ID); len(left) > 0 {
		t.Fatalf("%d processes left after the reaper", len(left))
	}
	d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, task.ID))
	if d.Status != supervisor.StatusReaped && d.Status != supervisor.StatusKilled {
		t.Fatalf("status %s, want reaped or killed", d.Status)
	}
	out := call[OutputResult](t, a, OutputTool(), fmt.Sprintf(`{"task_id":%q,"stream":"stdout"}`, task.ID))
	if out.Stdout == nil || !strings.Contains(*out.Stdout, "flooding the log") {
		t.Fatalf("output after the reap: %+v", out)
	}
}

func TestSupervisorTerminatedMidFlood(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=2")
	task := floodTask(t, a)
	if err := procs.Signal(task.Watchdog, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	task = waitEnd(t, a, task.ID)
	if task.Status != supervisor.StatusKilled {
		t.Fatalf("status %s, want killed", task.Status)
	}
	waitFor(t, "the tree to be gone", func() bool { return len(tasktest.MarkerProcs(t, task.ID)) == 0 })
}

// Twenty agents reading one fast writer at once, each with its own cursor:
// after its first read (the newest lines, the earlier ones counted), each
// gets every line exactly once, in order.
func TestTwentyReadersOfOneWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: twenty readers of a flood (13 s)")
	}
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.5", "BG_LOG_BACKUPS=0") // all kept
	const n = 200000
	// Written in 40 bursts, so the readers page while it writes.
	r := startTask(t, a, map[string]any{"command": fmt.Sprintf("for i in $(seq 0 39); do seq $((i*%d+1)) $(((i+1)*%d)); sleep 0.02; done", n/40, n/40)})
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := WithReader(context.Background(), fmt.Sprintf("agent-%d", g))
			params := fmt.Sprintf(`{"task_id":%q,"stream":"stdout","raw":true,"max_lines":5000}`, r.TaskID)
			last := 0
			for first := true; last < n; first = false {
				res, err := a.Call(ctx, OutputTool(), []byte(params))
				if err != nil {
					t.Error(err)
					return
				}
				out := res.(OutputResult)
				lines := strings.Split(*out.Stdout, "\n")
				if m := out.StdoutMeta; m.Remaining == 0 && m.TotalLines > m.Cursor {
					lines = lines[:len(lines)-1] // A partial last line: shown, not consumed.
				}
				for i, l := range lines {
					if l == "" {
						continue
					}
					if m := gapRe.FindStringSubmatch(l); m != nil && first && i == 0 {
						k, _ := strconv.Atoi(m[1])
						last += k
						continue
					}
					if v, err := strconv.Atoi(l); err != nil || v != last+1 {
						t.Errorf("reader %d: line %q after %d", g, l, last)
						return
					}
					last++
				}
				if len(lines) == 0 && out.Status != supervisor.StatusRunning && out.StdoutMeta.Remaining == 0 && last < n {
					t.Errorf("reader %d: ended at %d of %d", g, last, n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

var gapRe = regexp.MustCompile(`^\[\.\.\. (\d+) (?:lines rotated away unread|earlier lines omitted) \.\.\.\]$`)

// TestCaptureErrorWhileTheDiskIsFull: capture_error is set while output
// is being dropped, not when the task ends, and its count grows as it
// goes. Before, the file that says so could not be written on the full
// disk until the task ended.
func TestCaptureErrorWhileTheDiskIsFull(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_LOG_MAX_MB=0.25", "BG_LOG_BACKUPS=40")
	mountTmpfs(t, a)
	r := startTask(t, a, map[string]any{"command": "yes 'a line that fills the disk, over and over'", "timeout": 0})
	dropped := func() int64 {
		d := call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
		if d.Status != supervisor.StatusRunning {
			t.Fatalf("the task ended: %+v", d)
		}
		i := strings.Index(d.CaptureError, " bytes dropped")
		if i < 0 {
			return -1
		}
		var n int64
		fmt.Sscan(d.CaptureError[strings.LastIndex(d.CaptureError[:i], " ")+1:i], &n)
		return n
	}
	var first int64
	waitFor(t, "capture_error while it runs", func() bool { first = dropped(); return first > 0 })
	waitFor(t, "the count to grow", func() bool { return dropped() > first })
	call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, r.TaskID))
}
