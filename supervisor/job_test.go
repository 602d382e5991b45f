package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// bothSupervisors are the stores of tests that hold for either kind of
// supervisor: one started for the task (its record written before it
// starts) and a spare (which writes it while the command starts).
var bothSupervisors = []struct {
	name  string
	store func(t *testing.T) Store
}{
	{"a supervisor started for the task", func(t *testing.T) Store { return Store{Dir: t.TempDir()} }},
	{"a spare", func(t *testing.T) Store { s, _, _ := spareStore(t, os.Environ()); return s }},
}

// stopAtCleanup stops task id of s, if it still runs, when the test ends.
func stopAtCleanup(t *testing.T, s Store, id string) {
	t.Cleanup(func() {
		if cur, err := s.Load(id); err == nil && cur.Status == StatusRunning {
			_, _ = s.Stop(context.Background(), cur, 100*time.Millisecond) // Best effort, by its supervisor.
		}
	})
}

// What Start answers is what Load reads of the task afterwards: the
// record it was given and the pids its supervisor reported, which it
// does not read back. Both supervisors: one started for the task (the
// record written before it starts) and a spare (which writes the record
// while the command starts).
func TestStartAnswersWhatLoadReads(t *testing.T) {
	t.Parallel()
	for _, tc := range bothSupervisors {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.store(t)
			task, err := s.Start(context.Background(), Request{
				Command: helpers.Shell("hang"), Label: "  a label with spaces ", Cwd: t.TempDir(), Env: os.Environ(),
				Timeout: 90 * time.Minute, Notify: "always", Log: capture.WriterOptions{MaxBytes: 1 << 20, Backups: 3},
				Restarts: 2, Restart: RestartPolicy{Policy: RestartOnFailure, Max: 4, Backoff: 1500 * time.Millisecond},
				Stack: "/projects/shop/stack.yaml",
			})
			if err != nil {
				t.Fatal(err)
			}
			stopAtCleanup(t, s, task.ID)
			loaded, err := s.Load(task.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(task, loaded) {
				t.Errorf("Start answered\n%+v\nLoad reads\n%+v", *task, *loaded)
			}
			if task.Root.PID == 0 || task.Watchdog.PID == 0 || task.Root.Start == 0 {
				t.Errorf("the answer records no pids: %+v, %+v", task.Root, task.Watchdog)
			}
		})
	}
}

// A task's folder appears whole or not at all: while its supervisor
// starts, no folder of its id is listed, even an empty one.
func TestAStartingTaskIsNotListed(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	started := make(chan *Task, 1)
	go func() {
		task, err := s.Start(context.Background(), Request{Command: "exit 0", Cwd: t.TempDir(), Env: append(os.Environ(), slowReportEnv+"=300ms")})
		if err != nil {
			t.Error(err)
		}
		started <- task
	}()
	poll(t, 30*time.Second, "a staging folder", func() bool {
		names, _ := filepath.Glob(filepath.Join(s.Dir, ".staging-*"))
		return len(names) > 0
	})
	if tasks, err := s.List(); err != nil || len(tasks) != 0 {
		t.Errorf("while it starts, List gives %d tasks (%v)", len(tasks), err)
	}
	ents, _ := os.ReadDir(s.Dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "task-") {
			t.Errorf("the store holds %s before the task started", e.Name())
		}
	}
	if task := <-started; task != nil {
		waitEnded(t, s, task.ID)
	}
}

// A command or label with a NUL byte is refused before anything is made:
// no program takes one in its arguments.
func TestStartRefusesANulByte(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	for _, tc := range []struct {
		r    Request
		name string
	}{
		{Request{Command: "echo a\x00b", Cwd: t.TempDir()}, "command"},
		{Request{Command: "echo ab", Label: "a\x00b", Cwd: t.TempDir()}, "label"},
	} {
		if _, err := s.Start(context.Background(), tc.r); err == nil || !strings.Contains(err.Error(), tc.name+": holds a NUL byte") {
			t.Errorf("Start(%q, label %q) = %v, want a NUL refusal naming %s", tc.r.Command, tc.r.Label, err, tc.name)
		}
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("a refused start left %d entries in the store", len(ents))
	}
}

// A spare runs a restart too: the record is in the staging folder then,
// and the job carries none.
func TestASpareRunsARestart(t *testing.T) {
	t.Parallel()
	s, sp, _ := spareStore(t, os.Environ())
	task, err := s.Start(context.Background(), Request{Command: "echo run", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	ended := waitEnded(t, s, task.ID)
	sp.Fill()
	sp.mu.Lock()
	spare := sp.spare.cmd.Process.Pid
	sp.mu.Unlock()
	again, err := s.Restart(context.Background(), ended, RestartRequest{Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	if again.Watchdog.PID != spare {
		t.Errorf("the restart's supervisor is %d, not the spare %d", again.Watchdog.PID, spare)
	}
	end := waitEnded(t, s, task.ID)
	if end.Status != StatusCompleted || end.Restarts != 1 {
		t.Errorf("after the restart: %s, %d restarts", end.Status, end.Restarts)
	}
	out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout"))
	if n := strings.Count(string(out), "run"); n != 2 {
		t.Errorf("stdout holds %d runs, want 2: %q", n, out)
	}
}

// A spare listens to its signals while it waits: a stop still ends it
// before it has a task, as it would have ended it unlistened, and the
// next start gets a supervisor of its own.
func TestAStoppedSpareExits(t *testing.T) {
	t.Parallel()
	s, _, spare := spareStore(t, os.Environ())
	// It may still be starting: its signals are only its own once it
	// listens, and before that SIGTERM ends it as well.
	if err := syscall.Kill(spare, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the stopped spare to exit", func() bool { return !alive(spare) })
	task, err := s.Start(context.Background(), Request{Command: "echo after", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatalf("a start after its spare was stopped: %v", err)
	}
	if task.Watchdog.PID == spare {
		t.Error("the stopped spare is the task's supervisor")
	}
	waitEnded(t, s, task.ID)
}

// A spare stopped as its job comes declines it (or takes it, when the
// job came first, and the stop then ends the task): either way the start
// does not fail. A trial saw "supervisor exited before starting the
// command" 5 times in 6.
func TestASpareStoppedAsItsJobComesDoesNotFailTheStart(t *testing.T) {
	t.Parallel()
	s, _, spare := spareStore(t, os.Environ())
	// Once it listens (its stop then declines): a spare that has not
	// started yet would be ended by the stop, which another test covers.
	waitForItsJob(t, spare)
	started := make(chan error, 1)
	var task *Task
	go func() {
		var err error
		task, err = s.Start(context.Background(), Request{Command: "echo started", Cwd: t.TempDir(), Env: os.Environ()})
		started <- err
	}()
	// The job is written just after the staging folder is made: the stop
	// comes with it, or just before or after (the start may be over).
	poll(t, 30*time.Second, "the start's staging folder", func() bool {
		names, _ := filepath.Glob(filepath.Join(s.Dir, ".staging-*"))
		return len(names) > 0 || len(started) > 0
	})
	_ = syscall.Kill(spare, syscall.SIGTERM)
	if err := <-started; err != nil {
		t.Fatalf("the start failed: %v", err)
	}
	waitEnded(t, s, task.ID)
}

// waitForItsJob waits until spare waits for its job: a thread of it reads
// the job pipe, so it is past PrepareSpare.
func waitForItsJob(t *testing.T, spare int) {
	t.Helper()
	poll(t, 30*time.Second, "the spare to wait for its job", func() bool {
		ws, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", spare))
		for _, w := range ws {
			if b, _ := os.ReadFile(w); strings.Contains(string(b), "pipe_read") || strings.Contains(string(b), "pipe_wait") {
				return true
			}
		}
		return false
	})
}

// A stopped spare (SIGSTOP, a debugger) is passed over: the start gets a
// supervisor of its own at once, where it waited until the spare was
// continued (a trial's finding: 10 minutes). Continued, the spare exits.
func TestAFrozenSpareIsPassedOver(t *testing.T) {
	t.Parallel()
	s, _, spare := spareStore(t, os.Environ())
	waitForItsJob(t, spare)
	if err := syscall.Kill(spare, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(spare, syscall.SIGCONT) }) // Best effort: it exits then.
	poll(t, 30*time.Second, "the spare to stop", func() bool { return stopped(spare) })
	task, err := s.Start(context.Background(), Request{Command: "echo started", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	if task.Watchdog.PID == spare {
		t.Error("the stopped spare is the task's supervisor")
	}
	waitEnded(t, s, task.ID)
	if err := syscall.Kill(spare, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the continued spare to exit", func() bool { return !alive(spare) })
}

// A job reads back as it was written, whatever its values hold but NUL.
func TestJobRoundTrip(t *testing.T) {
	for _, j := range []Job{
		{Staging: "/s/.staging-1", Dir: "/s/task-1"},
		{Staging: "/s/.staging-1", Dir: "/s/task-1", Env: []string{"A=1", "B=", "C=x=y"}},
		{Staging: "/s/.staging-1", Dir: "/s/task-1", Env: []string{"A=1"}, Record: []string{"command", "echo 'a\nb'", "notify", "", "label", " x "}},
		{Staging: "/s/.staging-1", Dir: "/s/task-1", Record: []string{"notify", ""}},
	} {
		b, err := j.encode()
		if err != nil {
			t.Fatalf("encode %+v: %v", j, err)
		}
		got, err := decodeJob(b)
		if err != nil {
			t.Fatalf("decode %q: %v", b, err)
		}
		if !reflect.DeepEqual(got, j) {
			t.Errorf("round trip of %+v gives %+v", j, got)
		}
	}
	for _, bad := range []Job{
		{Staging: "/s/a", Dir: "/s/b", Record: []string{"command"}},
		{Staging: "/s/a", Dir: "/s/b", Record: []string{"command", "a\x00b"}},
	} {
		if _, err := bad.encode(); err == nil {
			t.Errorf("encode %+v: no error", bad)
		}
	}
	for _, bad := range []string{"", "/s/a\x00/s/b", "/s/a\x00/s/b\x00", "rel\x00/s/b\x00\x00", "/s/a\x00/s/b\x00\x00../x\x00v\x00", "/s/a\x00/s/b\x00\x00name\x00"} {
		if j, err := decodeJob([]byte(bad)); err == nil {
			t.Errorf("decode %q = %+v, want an error", bad, j)
		}
	}
}

func FuzzDecodeJob(f *testing.F) {
	for _, s := range []string{"/s/a\x00/s/b\x00\x00", "/s/a\x00/s/b\x00A=1\x00\x00command\x00true\x00", "\x00\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := decodeJob(b)
		if err != nil {
			return
		}
		again, err := j.encode()
		if err != nil {
			t.Fatalf("a decoded job does not encode: %+v: %v", j, err)
		}
		j2, err := decodeJob(again)
		if err != nil || !reflect.DeepEqual(j, j2) {
			t.Fatalf("%q decodes to %+v, which encodes to %q, which decodes to %+v (%v)", b, j, again, j2, err)
		}
	})
}

// readJob takes a framed job and leaves the pipe open after it, takes
// an earlier build's job up to the pipe's end, and refuses a bad frame.
func TestReadJob(t *testing.T) {
	job := "/s/a\x00/s/b\x00\x00command\x00true\x00"
	for _, c := range []struct {
		name, in, want string
		framed, err    bool
	}{
		{"framed", string(frameJob([]byte(job))), job, true, false},
		{"framed, more after it", string(frameJob([]byte(job))) + "more", job, true, false},
		{"an earlier build's", job, job, false, false},
		{"no job", "", "", false, false},
		{"framed, empty", "0\n", "", true, false},
		{"a length without its end", "12", "", true, true},
		{"a length that is no number", "1x\n/s/a", "", true, true},
		{"a length beyond the bound", "99999999999\n", "", true, true},
		{"a job shorter than its length", "40\n" + job, "", true, true},
	} {
		b, framed, err := readJob(strings.NewReader(c.in))
		if string(b) != c.want || framed != c.framed || (err != nil) != c.err {
			t.Errorf("%s: readJob(%q) = %q, framed %v, err %v; want %q, framed %v, error %v", c.name, c.in, b, framed, err, c.want, c.framed, c.err)
		}
	}
}

func FuzzReadJob(f *testing.F) {
	f.Add(frameJob([]byte("/s/a\x00/s/b\x00\x00")))
	f.Add([]byte("/s/a\x00/s/b\x00\x00"))
	f.Add([]byte("3\nabc"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, framed, err := readJob(bytes.NewReader(in))
		if err != nil {
			return
		}
		if framed {
			head, rest, _ := bytes.Cut(in, []byte("\n"))
			if n, err := strconv.Atoi(string(head)); err != nil || n != len(b) || !bytes.HasPrefix(rest, b) {
				t.Fatalf("%q: read %q, framed: not the %q bytes its length says", in, b, head)
			}
		}
		if !framed && !bytes.Equal(b, in) {
			t.Fatalf("%q: read %q, unframed: want the whole input", in, b)
		}
	})
}

// Starts in parallel in one store, in the same second, each get a folder
// of their own, whole, and run their own command: one of them on the
// spare, the others on supervisors started for them.
func TestParallelStartsGetFoldersOfTheirOwn(t *testing.T) {
	t.Parallel()
	s, _, _ := spareStore(t, os.Environ())
	const n = 12
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task, err := s.Start(context.Background(), Request{Command: fmt.Sprintf("echo start-%d", i), Cwd: t.TempDir(), Env: os.Environ()})
			if err != nil {
				t.Errorf("start %d: %v", i, err)
				return
			}
			ids[i] = task.ID
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, id := range ids {
		if id == "" {
			continue // Reported above.
		}
		if seen[id] {
			t.Errorf("two starts got %s", id)
		}
		seen[id] = true
		end := waitEnded(t, s, id)
		if out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout")); !strings.Contains(string(out), fmt.Sprintf("start-%d\r\n", i)) && !strings.Contains(string(out), fmt.Sprintf("start-%d\n", i)) {
			t.Errorf("%s printed %q, want start-%d", id, out, i)
		}
	}
	if tasks, err := s.List(); err != nil || len(tasks) != len(seen) {
		t.Errorf("List gives %d tasks (%v), want %d", len(tasks), err, len(seen))
	}
}

// A command has stdin, stdout and stderr, and no descriptor of its
// supervisor's (its ready pipe, its server's): with a spare and without.
func TestACommandInheritsNoDescriptorOfItsSupervisor(t *testing.T) {
	t.Parallel()
	for _, tc := range bothSupervisors {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.store(t)
			// ls lists the descriptors of the shell, which started it
			// (not the last command: the shell does not exec ls in its
			// place), into a file the shell does not hold.
			task, err := s.Start(context.Background(), Request{Command: `ls /proc/$$/fd > fds; echo fds: $(sort -n fds)`, Cwd: t.TempDir(), Env: os.Environ()})
			if err != nil {
				t.Fatal(err)
			}
			end := waitEnded(t, s, task.ID)
			out, _ := os.ReadFile(filepath.Join(end.Dir, "stdout"))
			if got := strings.TrimSpace(string(out)); got != "fds: 0 1 2" {
				t.Errorf("the command's descriptors: %q, want fds: 0 1 2", got)
			}
		})
	}
}

// A start's error says a long command back cut, not whole: one too long
// for the system (E2BIG) repeated 200 KB.
func TestAStartErrorCutsALongCommand(t *testing.T) {
	long := "echo " + strings.Repeat("é", 100_000)
	msg := (&StartError{Command: long, Err: syscall.E2BIG}).Error()
	if len(msg) > 400 || !strings.Contains(msg, "(200005 bytes)") || !strings.Contains(msg, syscall.E2BIG.Error()) {
		t.Errorf("%d bytes: %.300q", len(msg), msg)
	}
	if !utf8.ValidString(msg) {
		t.Error("the cut split a character")
	}
	if short := (&StartError{Command: "echo hi", Err: syscall.E2BIG}).Error(); short != `start "echo hi": `+syscall.E2BIG.Error() {
		t.Errorf("a short command: %q", short)
	}
}

// An empty folder a dead restart (or an earlier version's start) left
// under a task's id is removed by the reaper once it is a minute old and
// no staging folder stands for it; nothing else lists it (a trial's
// finding: it stayed for good).
func TestTheReaperRemovesAnAbandonedReservation(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	old := time.Now().Add(-2 * time.Minute)
	mk := func(name string, at time.Time) string {
		p := filepath.Join(s.Dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abandoned := mk("task-1796600000-0000000a", old)
	young := mk("task-1796600000-0000000b", time.Now())
	underway := mk("task-1796600000-0000000c", old)
	mk(".staging-task-1796600000-0000000c", time.Now())
	if _, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abandoned); err != nil {
		t.Fatal("a dry run removed a reservation")
	}
	if _, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abandoned); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the abandoned reservation is still there (%v)", err)
	}
	for _, kept := range []string{young, underway} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(kept), err)
		}
	}
}

// A spare that a stop reaches with its job (both wait when it is
// continued) declines the job in its report, or takes it when it read the
// job first; it never exits without a report (which failed the start).
func TestASpareStoppedWithItsJobDeclinesIt(t *testing.T) {
	t.Parallel()
	s, sp, spare := spareStore(t, os.Environ())
	waitForItsJob(t, spare)
	exe, _ := os.Executable()
	taken := sp.take(exe)
	id, dir, staging, err := s.newID(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cwd := t.TempDir()
	job := Job{Staging: staging, Dir: dir, Env: os.Environ(), Record: []string{
		fileCommand, "echo taken", fileLabel, id, fileCwd, cwd, fileStartedAt, time.Now().UTC().Format(TimeLayout), fileStatus, StatusRunning}}
	if err := syscall.Kill(spare, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// What assign does, in steps: the job is in the pipe before the stop.
	b, err := job.encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := taken.job.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = taken.job.Close() // All written.
	_ = syscall.Kill(spare, syscall.SIGTERM)
	_ = syscall.Kill(spare, syscall.SIGCONT)
	_, err = awaitReport(taken.ready)
	_ = taken.ready.Close() // Read.
	switch {
	case errors.Is(err, errDeclined):
		// Declined: nothing started.
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a declined job left its task folder: %v", err)
		}
	case err == nil:
		waitEnded(t, s, id) // Taken, then ended by the stop.
	default:
		t.Errorf("the report: %v; want a declined job or a started one", err)
	}
	_ = os.RemoveAll(staging) // Best effort: Start would.
}

// A restart that died before its new supervisor put the task's folder
// back leaves the whole record, logs and all, in its staging folder: the
// reaper puts it back once it is a minute old, instead of removing the
// task with it. A staging folder without a whole record goes.
func TestTheReaperPutsBackAnAbandonedRestart(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	task, err := s.Start(context.Background(), Request{Command: "echo kept", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, s, task.ID)
	old := time.Now().Add(-2 * time.Minute)
	staging := filepath.Join(s.Dir, ".staging-"+task.ID)
	if err := os.Rename(task.Dir, staging); err != nil {
		t.Fatal(err)
	}
	// One wedged by an earlier version: a reader's cursor in the folder
	// it reserved. Its record is kept, not removed.
	wedged, err := s.Start(context.Background(), Request{Command: "echo wedged", Cwd: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, s, wedged.ID)
	wedgedStaging := filepath.Join(s.Dir, ".staging-"+wedged.ID)
	if err := os.Rename(wedged.Dir, wedgedStaging); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(wedged.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wedged.Dir, ".cursor_stdout"), []byte("1 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(s.Dir, ".staging-task-1796600000-0000000d")
	if err := os.Mkdir(partial, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{staging, partial, wedgedStaging} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	back, err := s.Load(task.ID)
	if err != nil {
		t.Fatalf("the abandoned restart's task: %v", err)
	}
	if out, _ := os.ReadFile(filepath.Join(back.Dir, "stdout")); !strings.Contains(string(out), "kept") {
		t.Errorf("its log holds %q", out)
	}
	for _, gone := range []string{staging, partial} {
		if _, err := os.Lstat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there (%v)", filepath.Base(gone), err)
		}
	}
	if out, err := os.ReadFile(filepath.Join(wedgedStaging, "stdout")); err != nil || !strings.Contains(string(out), "wedged") {
		t.Errorf("the wedged task's record was not kept: %q (%v)", out, err)
	}
}
