package supervisor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spareStore is a store whose tasks are given to spares of this test
// binary, started with env; the spares end with the test.
func spareStore(t *testing.T, env []string) (Store, *Spares, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sp := NewSpares(exe, env)
	t.Cleanup(sp.Close)
	sp.Fill()
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.spare == nil {
		t.Fatal("Fill started no spare")
	}
	return Store{Dir: t.TempDir(), Spares: sp}, sp, sp.spare.cmd.Process.Pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitEnded waits until task id has ended and returns it.
func waitEnded(t *testing.T, s Store, id string) *Task {
	t.Helper()
	var task *Task
	poll(t, 30*time.Second, id+" to end", func() bool {
		var err error
		task, err = s.Load(id)
		return err == nil && task.Status != StatusRunning
	})
	return task
}

// callerSaysEnv is a variable whose value the test supervisor's OnFinish
// records from its own environment, as a notification would read it.
const callerSaysEnv = "SPARE_SAYS"

// A spare takes the next task as its supervisor, with the caller's
// environment (not the one it was started with: for the command, the
// shell it is found on PATH and the supervisor's own notifications) and
// the task's log.
func TestASpareTakesTheNextTask(t *testing.T) {
	t.Parallel()
	s, sp, spare := spareStore(t, append(os.Environ(), callerSaysEnv+"=the server"))
	exe, _ := os.Executable()
	task, err := s.Start(context.Background(), Request{Command: `echo "$SPARE_SAYS"`, Cwd: t.TempDir(),
		Env: append(os.Environ(), callerSaysEnv+"=the caller")})
	if err != nil {
		t.Fatal(err)
	}
	if task.Watchdog.PID != spare {
		t.Errorf("the task's supervisor is %d, not the spare %d", task.Watchdog.PID, spare)
	}
	if sp.take(exe) != nil {
		t.Error("the spare that took a task is still offered")
	}
	end := waitEnded(t, s, task.ID)
	out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout"))
	if string(out) != "the caller\r\n" && string(out) != "the caller\n" {
		t.Errorf("the command printed %q, want the caller's environment", out)
	}
	if _, err := os.Stat(filepath.Join(end.Dir, FileSupervisorLog)); err != nil {
		t.Errorf("the spare's own output does not go to the task's log: %v", err)
	}
	var events []byte
	poll(t, 30*time.Second, "the task's OnFinish", func() bool {
		events, _ = os.ReadFile(filepath.Join(end.Dir, "events"))
		return bytes.Contains(events, []byte("finished"))
	})
	if !bytes.Contains(events, []byte("the supervisor's environment says the caller\n")) {
		t.Errorf("events %q: the supervisor did not take the caller's environment for what it does after the start", events)
	}

	// The shell is the caller's: bash on the caller's PATH.
	bin := t.TempDir()
	fake := "#!/bin/sh\necho \"the caller's bash ran: $*\"\n"
	if err := os.WriteFile(filepath.Join(bin, "bash"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	sp.Fill()
	sp.mu.Lock()
	spare = sp.spare.cmd.Process.Pid
	sp.mu.Unlock()
	task, err = s.Start(context.Background(), Request{Command: "echo not this", Cwd: t.TempDir(),
		Env: append(os.Environ(), "PATH="+bin+string(filepath.ListSeparator)+os.Getenv("PATH"))})
	if err != nil {
		t.Fatal(err)
	}
	if task.Watchdog.PID != spare {
		t.Errorf("the second task's supervisor is %d, not the spare %d", task.Watchdog.PID, spare)
	}
	end = waitEnded(t, s, task.ID)
	if out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout")); !bytes.Contains(out, []byte("the caller's bash ran: -c echo not this")) {
		t.Errorf("the command printed %q, want it run by the bash on the caller's PATH", out)
	}
}

// A spare that started its task waits, before it opens the task's logs,
// until its server has answered the caller (Spares.Fill closes its job
// pipe), or answerWait at most: what follows would take a CPU from the
// caller's answer.
func TestASpareWaitsForItsCallerToBeAnswered(t *testing.T) {
	t.Parallel()
	s, sp, _ := spareStore(t, os.Environ())
	held := func() int {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		return len(sp.held)
	}
	// A caller that goes on after the start (a wait on its output): the
	// spare is not held.
	task, err := s.Start(context.Background(), Request{Command: "echo first", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("a start that does not answer at once holds %d spares", n)
	}
	waitEnded(t, s, task.ID)
	sp.Fill()
	task, err = s.Start(context.Background(), Request{Command: "echo hi", Cwd: t.TempDir(), Env: os.Environ(), AnswersAtOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	stdout := filepath.Join(task.Dir, "stdout")
	if _, err := os.Stat(stdout); err == nil && time.Since(answered) < answerWait {
		t.Fatal("the spare opened its task's log before its caller was answered")
	}
	sp.Fill()
	if end := waitEnded(t, s, task.ID); end.Status != StatusCompleted {
		t.Fatalf("the task ended %s", end.Status)
	}
	if out, _ := os.ReadFile(stdout); !bytes.HasPrefix(out, []byte("hi")) {
		t.Fatalf("stdout %q: the output that waited in the terminal is lost", out)
	}
	if n := held(); n != 0 {
		t.Fatalf("Fill left %d spares held", n)
	}
	// Never answered (a server gone quiet): it goes on after answerWait.
	task, err = s.Start(context.Background(), Request{Command: "echo again", Cwd: t.TempDir(), Env: os.Environ(), AnswersAtOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	if end := waitEnded(t, s, task.ID); end.Status != StatusCompleted {
		t.Fatalf("the task ended %s", end.Status)
	}
}

// A spare that died while it waited is passed over: the task gets a
// supervisor started for it.
func TestADeadSpareIsPassedOver(t *testing.T) {
	t.Parallel()
	s, _, spare := spareStore(t, os.Environ())
	if err := syscall.Kill(spare, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the spare to die", func() bool { return !alive(spare) })
	task, err := s.Start(context.Background(), Request{Command: "echo hi", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatalf("Start after the spare died: %v", err)
	}
	if task.Watchdog.PID == spare {
		t.Error("the dead spare is the task's supervisor")
	}
	waitEnded(t, s, task.ID)
}

// A spare whose Spares close without a task for it exits, and a program
// other than the spares' own gets none.
func TestASpareWithoutATaskExits(t *testing.T) {
	t.Parallel()
	_, sp, spare := spareStore(t, os.Environ())
	if sp.take("/some/other/bgtask-tool") != nil {
		t.Error("a spare was offered for another program")
	}
	sp.Close()
	poll(t, 30*time.Second, "the spare to exit", func() bool { return !alive(spare) })
	sp.Fill()
	if sp.spare != nil {
		t.Error("closed Spares started another")
	}
}

// A start whose caller goes away while the supervisor starts the command
// is not undone: the supervisor may have started it already, and the
// task is recorded whole, as it is when nobody goes away.
func TestAStartOutlivesItsCaller(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel) // During the supervisor's 300 ms before its report.
	task, err := s.Start(ctx, Request{Command: "echo started", Cwd: t.TempDir(), Env: append(os.Environ(), slowReportEnv+"=300ms")})
	if err != nil {
		t.Fatalf("Start whose caller went away meanwhile: %v", err)
	}
	end := waitEnded(t, s, task.ID)
	if end.Status != StatusCompleted {
		t.Errorf("the task ended %s, want completed", end.Status)
	}
	if out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout")); !strings.Contains(string(out), "started") {
		t.Errorf("its output is %q", out)
	}
	if _, err := s.Start(ctx, Request{Command: "echo late", Cwd: t.TempDir(), Env: os.Environ()}); err == nil {
		t.Error("a start whose caller had gone already went ahead")
	}
}

// A log that cannot be opened does not undo a start that was reported:
// the command runs on, its output on that stream is dropped and counted,
// and capture_error says why, from the start.
func TestALogThatCannotBeOpenedDropsItsOutput(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	task, err := s.Start(context.Background(), Request{Command: "echo out; echo err >&2", Cwd: t.TempDir(),
		Env: append(os.Environ(), blockLogEnv+"=stdout")})
	if err != nil {
		t.Fatalf("Start with a log that cannot be opened: %v", err)
	}
	end := waitEnded(t, s, task.ID)
	if end.Status != StatusCompleted {
		t.Errorf("the task ended %s, want completed", end.Status)
	}
	if out, _ := os.ReadFile(filepath.Join(end.Dir, "stderr")); !strings.Contains(string(out), "err") {
		t.Errorf("the other stream's log holds %q, want its output", out)
	}
	if !strings.Contains(end.CaptureError, "stdout: open the log") || !strings.Contains(end.CaptureError, "bytes dropped") {
		t.Errorf("capture_error says %q, want why stdout's log is missing", end.CaptureError)
	}
}

// An interactive task takes input as soon as bg_run has answered: its
// input is read before the start is reported, not after.
func TestAnInteractiveTaskReadsInputOnceStarted(t *testing.T) {
	t.Parallel()
	for _, spare := range []bool{false, true} {
		s := Store{Dir: t.TempDir()}
		if spare {
			s, _, _ = spareStore(t, os.Environ())
		}
		for i := range 10 {
			task, err := s.Start(context.Background(), Request{Command: `read -r line; echo "got $line"`, Cwd: t.TempDir(), Env: os.Environ(), Interactive: true, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			stopAtCleanup(t, s, task.ID) // A task whose input was lost would wait for its timeout.
			if err := Send(task, []byte("hello\n")); err != nil {
				t.Fatalf("spare %v, start %d: a send just after the start: %v", spare, i, err)
			}
			end := waitEnded(t, s, task.ID)
			if out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout")); !strings.Contains(string(out), "got hello") {
				t.Errorf("spare %v, start %d: the task printed %q", spare, i, out)
			}
			if spare {
				s.Spares.Fill()
			}
		}
	}
}

// A new task's capture_error is made blank with its record, before the
// start is answered, with a spare and without: a disk that has no room
// left for it fails the start instead of hiding why output is missing.
func TestCaptureErrorIsMadeWithTheRecord(t *testing.T) {
	t.Parallel()
	for _, spare := range []bool{false, true} {
		s := Store{Dir: t.TempDir()}
		if spare {
			s, _, _ = spareStore(t, os.Environ())
		}
		task, err := s.Start(context.Background(), Request{Command: "sleep 0.2", Cwd: t.TempDir(), Env: os.Environ()})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(task.Dir, fileCaptureError))
		if err != nil || len(b) != captureErrorSize || len(bytes.Trim(b, "\n")) != 0 {
			t.Errorf("spare %v: capture_error just after the start: %d bytes, %q... (%v), want %d blank ones", spare, len(b), b[:min(len(b), 20)], err, captureErrorSize)
		}
		if end := waitEnded(t, s, task.ID); end.CaptureError != "" {
			t.Errorf("spare %v: a task that lost nothing has capture_error %q", spare, end.CaptureError)
		}
	}
}
