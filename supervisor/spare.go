package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// A spare is a supervisor started before there is a task for it: a
// process that answers many calls (the call server) keeps one waiting,
// so that bg_run pays for the supervisor's start (a Go program's, about
// as long as the rest of bg_run together) before it is called rather
// than during the call. It runs `<exe> __supervise __spare` with the
// ready pipe on fd 3, as a supervisor started for a task has, and the
// job pipe on fd 4: the task's staging and task folders and the
// caller's environment, which it takes as its own before it does
// anything else (see TakeJob). A spare whose job pipe closes without a
// job (its server ended) exits.

// SpareArg follows SuperviseArg for a spare supervisor.
const SpareArg = "__spare"

// spareReadyFD and spareJobFD are the ready and job pipes' descriptors in
// a spare.
const (
	spareReadyFD = 3
	spareJobFD   = 4
)

// Spares keeps one spare supervisor of the executable Exe waiting. Its
// methods are safe for concurrent use.
type Spares struct {
	exe string
	env []string

	mu     sync.Mutex
	spare  *spare
	closed bool
	// held are the job pipes of spares that started their tasks, kept
	// open until their callers have their answers (Answered, or Fill):
	// see Ahead.awaitAnswered.
	held []*os.File
}

// spare is one waiting supervisor: the ready pipe's read end and the job
// pipe's write end.
type spare struct {
	cmd   *exec.Cmd
	ready *os.File
	job   *os.File
}

// NewSpares returns Spares of exe, started with env (until they take a
// job's); none is started before Fill.
func NewSpares(exe string, env []string) *Spares { return &Spares{exe: exe, env: env} }

// Fill starts a spare if none waits. Best effort: when it cannot, tasks
// start their supervisor as they would without spares.
//
// It first tells the spares that started tasks since the last Fill that
// their callers have been answered: Fill is the housekeeping after a
// call (toolbox.Resident.AfterCall).
func (sp *Spares) Fill() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.releaseHeld()
	if sp.spare != nil || sp.closed {
		return
	}
	s, err := startSpare(sp.exe, sp.env)
	if err == nil {
		sp.spare = s
	}
}

// Close ends the waiting spare (its job pipe closes) and starts no more.
func (sp *Spares) Close() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.closed = true
	sp.releaseHeld()
	if sp.spare != nil {
		sp.spare.discard()
		sp.spare = nil
	}
}

// hold keeps the job pipe of a spare that started its task open until
// the next Answered, Fill or Close.
func (sp *Spares) hold(job *os.File) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		_ = job.Close() // Best effort: the spare goes on at EOF.
		return
	}
	sp.held = append(sp.held, job)
}

// Answered tells the spares that started tasks since the last call of
// Answered or Fill that their callers have their answers: they go on
// (Ahead.awaitAnswered).
func (sp *Spares) Answered() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.releaseHeld()
}

// releaseHeld closes the held job pipes; sp.mu is held.
func (sp *Spares) releaseHeld() {
	for _, f := range sp.held {
		_ = f.Close() // Best effort: the spare goes on at EOF, or at its bound.
	}
	sp.held = nil
}

// take returns the waiting spare, nil if none waits or exe is not the
// spares' program.
func (sp *Spares) take(exe string) *spare {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if exe != sp.exe {
		return nil
	}
	s := sp.spare
	sp.spare = nil
	return s
}

func startSpare(exe string, env []string) (*spare, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	jobR, jobW, err := os.Pipe()
	if err != nil {
		_, _ = readyR.Close(), readyW.Close() // Best effort.
		return nil, err
	}
	cmd := exec.Command(exe, SuperviseArg, SpareArg)
	cmd.Env = env
	cmd.Dir = "/"                             // Hold no caller's folder while waiting.
	cmd.ExtraFiles = []*os.File{readyW, jobR} // fds 3 and 4
	cmd.SysProcAttr = detached()
	err = cmd.Start()
	_, _ = readyW.Close(), jobR.Close() // The spare has its own copies.
	if err != nil {
		_, _ = readyR.Close(), jobW.Close() // Best effort.
		return nil, err
	}
	go func() { _ = cmd.Wait() }() // Reap it whenever it ends, as spawn does.
	return &spare{cmd: cmd, ready: readyR, job: jobW}, nil
}

// frozen reports whether the spare is stopped (SIGSTOP, a debugger): a
// job given to it would wait, and its start with it, until it is
// continued (a trial's finding: 10 minutes).
func (s *spare) frozen() bool { return stopped(s.cmd.Process.Pid) }

// discard ends a spare that will get no job.
func (s *spare) discard() {
	_, _ = s.job.Close(), s.ready.Close() // It sees EOF and exits.
}

// assign gives the spare its job and waits for its report, as spawn
// does for a supervisor it starts. sent is false when the spare got
// nothing (it had ended): the caller may then spawn one. When sent, the
// job pipe stays open, for the caller to close once the task's caller
// has its answer (Spares.hold; see Ahead.awaitAnswered).
func (s *spare) assign(j Job) (report []string, sent bool, err error) {
	defer s.ready.Close() // Best effort, once the report is read.
	b, err := j.encode()
	if err != nil {
		s.discard()
		return nil, false, err
	}
	if _, err = s.job.Write(frameJob(b)); err != nil {
		_ = s.job.Close() // Best effort: it had ended.
		return nil, false, fmt.Errorf("give a spare supervisor its task: %w", err)
	}
	report, err = awaitReport(s.ready)
	if errors.Is(err, errDeclined) {
		_ = s.job.Close()      // Best effort: it exits.
		return nil, false, err // It started nothing: a supervisor of its own, then.
	}
	return report, true, err
}

// declinedReport is the report of a spare that was stopped as its job
// came, and started nothing.
const declinedReport = "declined"

var errDeclined = errors.New("the spare supervisor was stopped as its task came")

// awaitReport reads a supervisor's one-line report from ready: "ok" once
// the command runs, with the pid files' names and values (name=value) it
// recorded, or why it could not start it. A supervisor that closes the
// pipe without one has exited. It waits for the report even when the
// caller has gone (a killed client, a cancelled MCP call): the
// supervisor may have started the command already, and it records the
// task whole or not at all; cutting the wait short would leave a command
// that no record names, or a record without its supervisor.
func awaitReport(ready io.Reader) (record []string, err error) {
	line, _ := bufio.NewReader(ready).ReadString('\n')
	f := strings.Fields(line)
	switch {
	case len(f) > 0 && f[0] == "ok":
		for _, kv := range f[1:] {
			if k, v, ok := strings.Cut(kv, "="); ok {
				record = append(record, k, v)
			}
		}
		return record, nil
	case len(f) == 0:
		return nil, fmt.Errorf("supervisor exited before starting the command (see %s)", FileSupervisorLog)
	case len(f) == 1 && f[0] == declinedReport:
		return nil, errDeclined
	default:
		return nil, errors.New(strings.TrimSpace(line))
	}
}

// okReport is the report of a supervisor whose command runs, with what
// it recorded of t beyond the record it was given: the pid files.
func okReport(t *Task) string {
	return fmt.Sprintf("ok %s=%d %s=%d %s=%d %s=%d\n", filePID, t.Root.PID, filePIDStart, t.Root.Start,
		fileWatchdog, t.Watchdog.PID, fileWatchdogStart, t.Watchdog.Start)
}

// Ahead is what a spare prepares while it waits, so that its task's
// start does not wait for it: its own process record, the two PTYs of
// the first run, and its signal handlers.
type Ahead struct {
	me      procs.Proc
	masters [2]*os.File
	ttys    [2]*os.File
	sig     *signals
	// env is the job's environment (the caller's), which the spare makes
	// its own once the command runs (adoptEnv): until then the start
	// reads it from the Supervisor's Env alone.
	env []string
	// job is the job pipe, which the server closes once it has answered
	// the task's caller (awaitAnswered); nil when the job came whole,
	// ended by the pipe's end.
	job *os.File
}

// answerWait bounds a spare's wait for its caller to be answered
// (awaitAnswered): its server closes the job pipe once the caller has
// gone, which it waits for 100 ms at most (callserver.DefaultLeaveWait).
const answerWait = 150 * time.Millisecond

// awaitAnswered waits, after the start's report, until the server has
// answered the task's caller: the job pipe's end, or answerWait. What
// follows (the environment's 60-odd os.Setenv calls, the logs' new
// files, and a short command's end, recorded with more) would otherwise
// take a CPU from the caller's answer and exit on a 2-core machine:
// 0.3 to 0.4 ms of bg_run's 5 on the test VM. The command runs meanwhile;
// its output waits in its terminal.
func (a *Ahead) awaitAnswered() {
	if a == nil || a.job == nil {
		return
	}
	// poll(2), not a read with a deadline: the pipe is a blocking one,
	// which the runtime's poller does not take.
	fds := []unix.PollFd{{Fd: int32(a.job.Fd()), Events: unix.POLLIN}}
	for deadline := time.Now().Add(answerWait); ; {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != unix.EINTR {
			break // The end (POLLHUP), or the bound; nothing else comes.
		}
	}
	_ = a.job.Close()
	a.job = nil
}

// PrepareSpare prepares what it can of a task's start before the task is
// known. Best effort: what fails here is done at the start, as usual.
// Each step is one a start would otherwise wait for; on this project's
// 2-core test VM the signal handlers alone took a millisecond (the
// runtime starts a thread for them), the pidfd probe another fraction,
// and the first touch of the start's code 0.5 ms (prefaultImage).
func PrepareSpare(ctx context.Context) *Ahead {
	// Its ready and job pipes are its own, and must not reach the
	// command; whatever else it inherited is not.
	closeInherited(spareReadyFD, spareJobFD)
	a := &Ahead{sig: listenSignals()}
	_ = prefaultImage() // Best effort: faults as usual.
	if me, err := procs.Lookup(ctx, os.Getpid()); err == nil {
		a.me = me
	}
	// os/exec probes once per process whether pidfds work (a clone of
	// its own) before the first start: probe now, as FindProcess does.
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release() // Best effort: the probe is what was wanted.
	}
	for i := range 2 {
		m, tty, err := openPTY()
		if err != nil {
			closeAll(a.masters[:], a.ttys[:])
			a.masters, a.ttys = [2]*os.File{}, [2]*os.File{}
			break
		}
		a.masters[i], a.ttys[i] = m, tty
	}
	return a
}

// adoptEnv makes the job's environment the process's own, for what reads
// it later (a desktop notification's D-Bus address, notify-send on PATH).
// Not before the command runs: on the test VM the 60-odd os.Setenv calls
// of a caller's environment took 0.18 ms of bg_run's time, and nothing
// before the report reads the process environment (the command's is
// Supervisor.Env; the shell is looked up on its PATH).
func (a *Ahead) adoptEnv() {
	if a == nil || a.env == nil {
		return
	}
	os.Clearenv()
	for _, kv := range a.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			_ = os.Setenv(k, v) // A name the caller's environment held: it takes.
		}
	}
	a.env = nil
}

// self is the supervisor's own process record: prepared, or looked up.
func (a *Ahead) self(ctx context.Context) (procs.Proc, error) {
	if a != nil && a.me.PID == os.Getpid() {
		return a.me, nil
	}
	return procs.Lookup(ctx, os.Getpid())
}

// signals returns the handlers listened to ahead, or listens now.
func (a *Ahead) signals() *signals {
	if a != nil && a.sig != nil {
		return a.sig
	}
	return listenSignals()
}

// TakeJob is a spare supervisor's wait for its task: it reads the job
// from its job pipe and sends its stdout and stderr to the task's
// supervisor log (as spawn does for a supervisor it starts). The
// caller's environment (Job.Env) becomes the process's own once the
// command runs: until then, pass it as Supervisor.Env. An error means no
// job came: the server ended, or a stop signal came first; the spare
// exits.
func (a *Ahead) TakeJob() (Job, error) {
	f := os.NewFile(spareJobFD, "job")
	type read struct {
		b      []byte
		framed bool
		err    error
	}
	got := make(chan read, 1)
	go func() {
		b, framed, err := readJob(f)
		if !framed {
			_ = f.Close() // Read whole; nothing more comes.
		}
		got <- read{b, framed, err}
	}()
	// A stop signal before the job is taken (or with it) ends the spare,
	// as it would have had it not been listened to ahead. Its report
	// declines the job, come or to come, so that its server starts a
	// supervisor for it: the report waits in the pipe for a server that
	// has not sent it yet.
	decline := func(s os.Signal) (Job, error) {
		ready := os.NewFile(spareReadyFD, "ready")
		_, _ = io.WriteString(ready, declinedReport+"\n") // Best effort: a server gone needs no answer.
		_ = ready.Close()
		return Job{}, fmt.Errorf("stopped by %v before it took a job", s)
	}
	var r read
	select {
	case r = <-got:
	case s := <-a.signals().stop:
		return decline(s)
	}
	select {
	case s := <-a.signals().stop: // Came with the job.
		return decline(s)
	default:
	}
	if r.framed {
		a.job = f
	}
	if r.err != nil {
		return Job{}, fmt.Errorf("read the job: %w", r.err)
	}
	if len(r.b) == 0 {
		return Job{}, errors.New("no job came")
	}
	j, err := decodeJob(r.b)
	if err != nil {
		return Job{}, err
	}
	select {
	case <-a.signals().again: // Nobody restarts a spare: not the task's.
	default:
	}
	a.env = j.Env
	// A descriptor of its own, not an *os.File: only dup'ed (os.OpenFile
	// would also register it with the poller, and undo that).
	logfd, err := unix.Open(filepath.Join(j.Staging, FileSupervisorLog), unix.O_CREAT|unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return Job{}, fmt.Errorf("open the supervisor log: %w", err)
	}
	defer unix.Close(logfd) // Dup'ed onto stdout and stderr.
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(logfd, fd); err != nil {
			return Job{}, fmt.Errorf("send output to the supervisor log: %w", err)
		}
	}
	return j, nil
}
