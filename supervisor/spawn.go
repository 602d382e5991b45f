package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// SuperviseArg is the hidden first argument that turns the executable into a
// task's supervisor: `<exe> __supervise <staging folder> <task folder>`.
const SuperviseArg = "__supervise"

// Request describes a task to start.
type Request struct {
	Command string
	// Label names the task for humans; empty means the task id.
	Label string
	// Cwd is where the command runs: an existing folder, absolute.
	Cwd string
	// Timeout is when the supervisor kills the task; 0 disables.
	Timeout time.Duration
	// Notify is the task's notification mode; empty leaves it to BG_NOTIFY.
	Notify string
	// Log sets the rotation of both streams.
	Log capture.WriterOptions
	// Executable runs as the supervisor, with SuperviseArg; empty means
	// this program (os.Executable), which is what production wants.
	Executable string
	// Env is the environment of the supervisor and the command; nil means
	// os.Environ(). BG_TASK_ID is added for the command.
	Env []string
	// Interactive gives the command a terminal on stdin (stdout's), fed
	// by Send; otherwise stdin is /dev/null.
	Interactive bool
	// Restarts counts the restarts of the task this one replaces (bgtask
	// restart): 0 for a new task.
	Restarts int
	// Restart is when the supervisor runs the command again after it
	// exits on its own.
	Restart RestartPolicy
	// Stack is the stack file declaring the task as a service; "" for none.
	Stack string
	// AnswersAtOnce says the caller answers its own caller as soon as
	// Start returns (bg_run without a wait): a spare supervisor then
	// waits until Spares.Answered before its logs (Ahead.awaitAnswered),
	// so as not to take a CPU from that answer. A caller that goes on
	// (a wait on the task's output, more tasks to start) leaves it
	// false: the spare goes on at once.
	AnswersAtOnce bool
}

// StartError reports that a task could not be started; nothing of it is
// left in the store.
type StartError struct {
	Command string
	Err     error
}

func (e *StartError) Error() string {
	cmd := e.Command
	if len(cmd) > maxCommandShown {
		// A command too long for the system (E2BIG) is not said back whole.
		cut := maxCommandShown
		for cut > 0 && !utf8.RuneStart(cmd[cut]) {
			cut--
		}
		cmd = fmt.Sprintf("%s… (%d bytes)", cmd[:cut], len(cmd))
	}
	return fmt.Sprintf("start %q: %v", cmd, e.Err)
}

// maxCommandShown is how much of a command an error repeats.
const maxCommandShown = 200

func (e *StartError) Unwrap() error { return e.Err }

// Start creates a task and starts its supervisor, which starts the command.
// It returns once the command runs and its pid is recorded, or with a
// *StartError and no trace in the store. The supervisor is detached (its
// own session, SIGHUP ignored): it outlives the caller.
func (s Store) Start(ctx context.Context, r Request) (*Task, error) {
	fail := func(err error) (*Task, error) { return nil, &StartError{Command: r.Command, Err: err} }
	if err := ctx.Err(); err != nil {
		return fail(err) // The caller is gone already: start nothing. Once begun, a start is not undone (see awaitReport).
	}
	if strings.TrimSpace(r.Command) == "" {
		return fail(errors.New("empty command"))
	}
	for name, v := range map[string]string{"command": r.Command, "label": r.Label} {
		if strings.IndexByte(v, 0) >= 0 {
			return fail(fmt.Errorf("%s: holds a NUL byte (\\u0000), which no program takes in its arguments", name))
		}
	}
	if !filepath.IsAbs(r.Cwd) {
		return fail(fmt.Errorf("cwd %q is not absolute", r.Cwd))
	}
	if fi, err := os.Stat(r.Cwd); err != nil || !fi.IsDir() {
		return fail(fmt.Errorf("cwd %q is not an existing folder", r.Cwd))
	}
	exe := r.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fail(fmt.Errorf("find own executable: %w", err))
		}
	}
	now := time.Now()
	id, dir, staging, err := s.newID(now)
	if err != nil {
		return fail(err)
	}
	cleanup := func() {
		_ = os.RemoveAll(staging) // Best effort: leftovers are skipped by List, removed by the reaper.
	}
	label := r.Label
	if label == "" {
		label = id
	}
	kv := []string{
		fileCommand, r.Command,
		fileLabel, label,
		fileCwd, r.Cwd,
		fileTimeout, strconv.FormatFloat(r.Timeout.Minutes(), 'f', -1, 64),
		fileStartedAt, now.UTC().Format(TimeLayout),
		fileStatus, StatusRunning,
	}
	// The optional files only when they say something: each file is an
	// inode made while bg_run waits (40 to 90 us each on this project's
	// test VM, an ext4 that tests churn), and a missing one reads as its
	// default (docs/on-disk.md).
	if r.Notify != "" {
		kv = append(kv, fileNotify, r.Notify)
	}
	if r.Log.MaxBytes != 0 {
		kv = append(kv, fileLogMaxBytes, strconv.FormatInt(r.Log.MaxBytes, 10))
	}
	if r.Log.Backups != 0 {
		kv = append(kv, fileLogBackups, strconv.Itoa(r.Log.Backups))
	}
	if r.Interactive {
		kv = append(kv, fileInteractive, "true")
	}
	if r.Restarts > 0 {
		kv = append(kv, fileRestarts, strconv.Itoa(r.Restarts))
	}
	if r.Stack != "" {
		kv = append(kv, fileStack, r.Stack)
	}
	if err := r.Restart.Check(); err != nil {
		cleanup()
		return fail(err)
	}
	if p := r.Restart; p.On() {
		kv = append(kv, fileRestart, p.Policy, fileMaxRestarts, strconv.Itoa(p.Max),
			fileBackoff, strconv.FormatFloat(p.Backoff.Seconds(), 'f', -1, 64))
	}
	report, err := s.startSupervisor(exe, Job{Staging: staging, Dir: dir, Env: r.Env, Record: kv}, r.AnswersAtOnce)
	if err != nil {
		cleanup()
		return fail(err)
	}
	if report == nil {
		return s.Load(id) // A supervisor that reports no pids (none does now; reading is the safe side).
	}
	// The record the supervisor was given and the pid files it reports
	// are the folder's files: read as Load would read them, without
	// reading them back.
	return readRecord(dir, append(kv, report...))
}

// spawn starts the supervisor and waits for its one-line report on a pipe
// (see awaitReport).
func spawn(exe, staging, dir string, env []string) ([]string, error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	defer func() { _ = rd.Close() }() // Read side only.
	logf, err := os.OpenFile(filepath.Join(staging, FileSupervisorLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		_ = wr.Close() // Best effort.
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	cmd := exec.Command(exe, SuperviseArg, staging, dir)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{wr} // fd 3 in the supervisor.
	cmd.SysProcAttr = detached()
	err = cmd.Start()
	_ = wr.Close()   // Ours is not needed: EOF must mean the supervisor closed or died.
	_ = logf.Close() // The supervisor has its own copy.
	if err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	// Reap it whenever it ends, for callers that live on (an MCP server):
	// a CLI caller exits first and the supervisor is reparented.
	go func() { _ = cmd.Wait() }()
	return awaitReport(rd)
}

// startSupervisor gives job's task its supervisor: a spare one when the
// store has one waiting for exe, else one it starts. Either way it
// returns once the command runs, with the supervisor's report (see
// awaitReport), or why it could not start. A spare writes the job's
// record into the staging folder while the command starts; a supervisor
// started for the task finds it written there.
//
// With hold, a spare's job pipe is kept open until Spares.Answered (see
// Request.AnswersAtOnce); without, it is closed once the report is in.
func (s Store) startSupervisor(exe string, job Job, hold bool) ([]string, error) {
	if sp := s.Spares.take(exe); sp != nil && sp.frozen() {
		sp.discard() // It exits once continued: its job pipe is closed.
	} else if sp != nil {
		j := job
		if j.Env == nil {
			j.Env = os.Environ()
		}
		if report, sent, err := sp.assign(j); sent {
			if hold {
				s.Spares.hold(sp.job) // Until the caller has its answer.
			} else {
				_ = sp.job.Close() // Best effort: it goes on at EOF, or at its bound.
			}
			return report, err
		}
	}
	if job.Record != nil { // A new task's; a restart's is in staging already.
		if err := writeStaging(job.Staging, withBlankCaptureError(job.Record)...); err != nil {
			return nil, err
		}
	}
	return spawn(exe, job.Staging, job.Dir, job.Env)
}
