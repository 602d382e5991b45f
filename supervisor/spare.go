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

// spareJobFD is the job pipe's descriptor in a spare.
const spareJobFD = 4

// Spares keeps one spare supervisor of the executable Exe waiting. Its
// methods are safe for concurrent use.
type Spares struct {
	exe string
	env []string

	mu     sync.Mutex
	spare  *spare
	closed bool
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
func (sp *Spares) Fill() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
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
	if sp.spare != nil {
		sp.spare.discard()
		sp.spare = nil
	}
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

// discard ends a spare that will get no job.
func (s *spare) discard() {
	_, _ = s.job.Close(), s.ready.Close() // It sees EOF and exits.
}

// assign gives the spare its task and waits for its report, as spawn
// does for a supervisor it starts. sent is false when the spare got
// nothing (it had ended): the caller may then spawn one.
func (s *spare) assign(staging, dir string, env []string) (sent bool, err error) {
	defer s.ready.Close() // Best effort, once the report is read.
	var job strings.Builder
	job.WriteString(staging + "\x00" + dir + "\x00")
	for _, kv := range env {
		job.WriteString(kv + "\x00")
	}
	_, err = io.WriteString(s.job, job.String())
	if cerr := s.job.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("give a spare supervisor its task: %w", err)
	}
	return true, awaitReport(s.ready)
}

// awaitReport reads a supervisor's one-line report from ready: nil once
// the command runs, or why it could not start it. A supervisor that
// closes the pipe without one has exited. It waits for the report even
// when the caller has gone (a killed client, a cancelled MCP call): the
// supervisor may have started the command already, and it records the
// task whole or not at all; cutting the wait short would leave a command
// that no record names, or a record without its supervisor.
func awaitReport(ready io.Reader) error {
	line, _ := bufio.NewReader(ready).ReadString('\n')
	switch m := strings.TrimSpace(line); {
	case m == "ok":
		return nil
	case m == "":
		return fmt.Errorf("supervisor exited before starting the command (see %s)", FileSupervisorLog)
	default:
		return errors.New(m)
	}
}

// Ahead is what a spare prepares while it waits, so that its task's
// start does not wait for it: its own process record and the two PTYs
// of the first run.
type Ahead struct {
	me      procs.Proc
	masters [2]*os.File
	ttys    [2]*os.File
}

// PrepareSpare prepares what it can of a task's start before the task is
// known. Best effort: what fails here is done at the start, as usual.
func PrepareSpare(ctx context.Context) *Ahead {
	a := &Ahead{}
	if me, err := procs.Lookup(ctx, os.Getpid()); err == nil {
		a.me = me
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

// self is the supervisor's own process record: prepared, or looked up.
func (a *Ahead) self(ctx context.Context) (procs.Proc, error) {
	if a != nil && a.me.PID == os.Getpid() {
		return a.me, nil
	}
	return procs.Lookup(ctx, os.Getpid())
}

// TakeJob is a spare supervisor's wait for its task: it reads the job
// from its job pipe, makes the caller's environment its own, sends its
// stdout and stderr to the task's supervisor log (as spawn does for a
// supervisor it starts) and returns the staging and task folders. An
// error means no job came (the server ended): the spare exits.
func TakeJob() (staging, dir string, err error) {
	f := os.NewFile(spareJobFD, "job")
	b, err := io.ReadAll(f)
	_ = f.Close() // Read whole; nothing more comes.
	if err != nil {
		return "", "", fmt.Errorf("read the job: %w", err)
	}
	if len(b) == 0 {
		return "", "", errors.New("no job came")
	}
	fields := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(fields) < 2 || !filepath.IsAbs(fields[0]) || !filepath.IsAbs(fields[1]) {
		return "", "", fmt.Errorf("a job that names no folders: %q", b)
	}
	os.Clearenv()
	for _, kv := range fields[2:] {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			_ = os.Setenv(k, v) // A name the caller's environment held: it takes.
		}
	}
	logf, err := os.OpenFile(filepath.Join(fields[0], FileSupervisorLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", "", fmt.Errorf("open the supervisor log: %w", err)
	}
	defer logf.Close() // Dup'ed onto stdout and stderr.
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(logf.Fd()), fd); err != nil {
			return "", "", fmt.Errorf("send output to the supervisor log: %w", err)
		}
	}
	return fields[0], fields[1], nil
}
