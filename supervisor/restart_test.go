package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// startTask starts cmd as a task of a fresh store, and ends whatever is
// left of it when the test is done.
func startTask(t *testing.T, cmd string, p RestartPolicy) (Store, *Task) {
	t.Helper()
	s := Store{Dir: t.TempDir()}
	task, err := s.Start(context.Background(), Request{Command: cmd, Cwd: t.TempDir(), Env: os.Environ(), Restart: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cur, err := s.Load(task.ID)
		if err == nil && cur.Status == StatusRunning {
			_, _ = s.Stop(context.Background(), cur, 100*time.Millisecond) // Best effort, by its supervisor.
		}
		_ = procs.Signal(task.Watchdog, syscall.SIGKILL) // Best effort: usually gone.
		root := task.Root
		if cur != nil {
			root = cur.Root
		}
		_, _ = procs.KillTree(context.Background(), procs.Target{Root: root, Marker: task.ID, Grace: 100 * time.Millisecond})
	})
	return s, task
}

// poll calls f until it reports true, failing the test after d.
func poll(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A command that crashes twice and then stays up is run three times under
// one id, into the same log, with one marker line per restart giving the
// exit code; "restarting" is told once.
func TestRestartOnFailure(t *testing.T) {
	t.Parallel()
	count := filepath.Join(t.TempDir(), "runs")
	s, task := startTask(t, helpers.Shell("crash-times", count, "2"), RestartPolicy{Policy: RestartOnFailure, Max: 5, Backoff: 100 * time.Millisecond})
	var cur *Task
	poll(t, 30*time.Second, "the third run did not come up", func() bool {
		cur, _ = s.Load(task.ID)
		b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
		return cur != nil && strings.Contains(string(b), "up\nready\n")
	})
	if cur.Status != StatusRunning || cur.Restarts != 2 || cur.LastExitCode == nil || *cur.LastExitCode != 3 {
		t.Fatalf("status %s, restarts %d, last exit %v; want running, 2, 3", cur.Status, cur.Restarts, cur.LastExitCode)
	}
	if cur.Root == task.Root || !procs.Alive(context.Background(), cur.Root) {
		t.Errorf("the recorded pid %v is not the third run's (first %v)", cur.Root, task.Root)
	}
	b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
	want := "run 1: crashing\n[bgtask: restart 1 of 5: exit 3, starting again in 100ms (restart: on_failure)]\n" +
		"run 2: crashing\n[bgtask: restart 2 of 5: exit 3, starting again in 100ms (restart: on_failure)]\nup\nready\n"
	if got := strings.ReplaceAll(string(b), "\r", ""); got != want {
		t.Errorf("stdout log:\n%s\nwant:\n%s", got, want)
	}
	ev, _ := os.ReadFile(filepath.Join(task.Dir, "events"))
	if string(ev) != "restarting\n" {
		t.Errorf("events %q; want one restarting", ev)
	}
	stopped, err := s.Stop(context.Background(), cur, 0)
	if err != nil || stopped.Status != StatusKilled {
		t.Fatalf("stop: %v, %v", stopped.Status, err)
	}
	if left := procs.Alive(context.Background(), cur.Root); left {
		t.Error("the last run outlived the stop")
	}
}

// A command that keeps failing is given up after max_restarts, once.
func TestRestartGivesUp(t *testing.T) {
	t.Parallel()
	count := filepath.Join(t.TempDir(), "runs")
	s, task := startTask(t, helpers.Shell("crash-times", count, "100"), RestartPolicy{Policy: RestartAlways, Max: 2})
	var cur *Task
	poll(t, 30*time.Second, "not given up", func() bool {
		cur, _ = s.Load(task.ID)
		return cur != nil && cur.Status != StatusRunning
	})
	if cur.Status != StatusFailed || cur.Restarts != 2 || *cur.ExitCode != 3 {
		t.Errorf("status %s, restarts %d, exit %v; want failed after 2 restarts, 3", cur.Status, cur.Restarts, *cur.ExitCode)
	}
	poll(t, 10*time.Second, "no finish event", func() bool {
		ev, _ := os.ReadFile(filepath.Join(task.Dir, "events"))
		return strings.Contains(string(ev), "finished")
	})
	ev, _ := os.ReadFile(filepath.Join(task.Dir, "events"))
	if string(ev) != "restarting\nfinished failed after 2 restarts\n" {
		t.Errorf("events %q", ev)
	}
	if b, _ := os.ReadFile(count); len(b) != 3 {
		t.Errorf("ran %d times, want 3", len(b))
	}
}

// RestartSignal runs the command again under the same id, whatever the
// policy; a stop during the backoff ends the task for good.
func TestRestartOnRequest(t *testing.T) {
	t.Parallel()
	s, task := startTask(t, helpers.Shell("hang"), RestartPolicy{})
	poll(t, 30*time.Second, "not ready", func() bool {
		b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
		return strings.Contains(string(b), "ready")
	})
	if err := procs.Signal(task.Watchdog, RestartSignal); err != nil {
		t.Fatal(err)
	}
	var cur *Task
	poll(t, 30*time.Second, "not restarted", func() bool {
		cur, _ = s.Load(task.ID)
		return cur != nil && cur.Restarts == 1 && cur.Root != task.Root
	})
	if cur.Status != StatusRunning || procs.Alive(context.Background(), task.Root) {
		t.Errorf("status %s; first run alive: %v", cur.Status, procs.Alive(context.Background(), task.Root))
	}
	b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
	if n := strings.Count(string(b), RestartMarker); n != 1 || !strings.Contains(string(b), "restarted on request") {
		t.Errorf("stdout log %q", b)
	}
}

// A task whose end recorded no exit code (a full disk records the
// status alone), restarted on request: its marker says how it ended,
// without an exit code, not "exit -1".
func TestARestartMarkerSaysNoExitCodeItHasNot(t *testing.T) {
	t.Parallel()
	s, task := startTask(t, helpers.Shell("hang"), RestartPolicy{})
	if _, err := s.Stop(context.Background(), task, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(task.Dir, fileExitCode)); err != nil {
		t.Fatal(err)
	}
	stopped, err := s.Load(task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != StatusKilled || stopped.ExitCode != nil {
		t.Fatalf("stopped: status %s, exit code %v; want killed, none", stopped.Status, stopped.ExitCode)
	}
	if _, err := s.Restart(context.Background(), stopped, RestartRequest{Env: os.Environ(), Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
	if want := RestartMarker + " 1: ended killed, restarted on request]"; !strings.Contains(string(b), want) {
		t.Errorf("stdout log %q, want the marker %q", b, want)
	}
}

func TestRestartPolicyWants(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p          RestartPolicy
		code, done int
		want       bool
	}{
		{RestartPolicy{}, 1, 0, false},
		{RestartPolicy{Policy: RestartNo}, 1, 0, false},
		{RestartPolicy{Policy: RestartOnFailure}, 0, 0, false},
		{RestartPolicy{Policy: RestartOnFailure}, 1, 99, true},
		{RestartPolicy{Policy: RestartAlways}, 0, 0, true},
		{RestartPolicy{Policy: RestartAlways, Max: 2}, 0, 2, false},
		{RestartPolicy{Policy: RestartOnFailure, Max: 2}, 137, 1, true},
	} {
		if got := tc.p.Wants(tc.code, tc.done); got != tc.want {
			t.Errorf("%+v.Wants(%d, %d) = %v", tc.p, tc.code, tc.done, got)
		}
	}
	if err := (RestartPolicy{Policy: "sometimes"}).Check(); err == nil {
		t.Error("Check accepted sometimes")
	}
}

// While an ended task is started again, its folder is moved aside until
// the new run's supervisor puts it back: Load, asked all along, waits for
// it and never says the task does not exist.
func TestATaskBeingRestartedIsNeverMissing(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	task, err := s.Start(context.Background(), Request{Command: "echo run", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	ended := waitEnded(t, s, task.ID)
	done := make(chan error, 1)
	go func() {
		_, err := s.Restart(context.Background(), ended, RestartRequest{Env: os.Environ()})
		done <- err
	}()
	loads, staged := 0, 0
	for restarting := true; restarting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			restarting = false
		default:
		}
		if _, err := os.Lstat(filepath.Join(s.Dir, ".staging-"+task.ID)); err == nil {
			staged++
		}
		if _, err := s.Load(task.ID); err != nil {
			t.Fatalf("Load during the restart, after %d loads: %v", loads, err)
		}
		loads++
	}
	if staged == 0 {
		t.Logf("the restart ended before a load saw its staging folder (%d loads)", loads)
	}
	if end := waitEnded(t, s, task.ID); end.Restarts != 1 {
		t.Errorf("after the restart: %d restarts", end.Restarts)
	}
}

// Readers that save their cursors in a task's folder all along never
// keep a restart from putting the folder back: every restart runs, and
// the task ends where it belongs (a trial had one wedged in its staging
// folder once in 12 to 39 restarts, when a reader wrote its cursor into
// the empty folder a restart reserved).
func TestRestartsUnderReadersNeverWedgeTheTask(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	task, err := s.Start(context.Background(), Request{Command: "echo hi; seq 1 50", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	ended := waitEnded(t, s, task.ID)
	stop := make(chan struct{})
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, stream := range []string{"stdout", "stderr"} {
				_, _ = capture.Read(task.Dir, stream, capture.ReadOptions{Since: true, Reader: "agent"}) // Errors while the folder is away are expected.
			}
		}
	}()
	const restarts = 25
	for i := range restarts {
		if _, err := s.Restart(context.Background(), ended, RestartRequest{Env: os.Environ()}); err != nil {
			close(stop)
			<-readers
			t.Fatalf("restart %d under readers: %v", i+1, err)
		}
		ended = waitEnded(t, s, task.ID)
	}
	close(stop)
	<-readers
	if ended.Restarts != restarts {
		t.Errorf("the task ran again %d times, want %d", ended.Restarts, restarts)
	}
	if _, err := os.Lstat(filepath.Join(s.Dir, ".staging-"+task.ID)); err == nil {
		t.Error("a staging folder is left")
	}
}
