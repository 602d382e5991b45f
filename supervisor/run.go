package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/envlist"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/pathlook"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/promptwake"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// ReapSignal asks a supervisor to kill its task and record it as reaped.
const ReapSignal = syscall.SIGUSR1

// drainBound is how long output is still read after the command's tree is
// gone. The PTY master reports end of stream once the last holder of the
// terminal closes it; a process that escaped the tree kill (another user's,
// say) would hold it forever.
const drainBound = 2 * time.Second

// Supervisor is one supervisor process's job: run the task prepared in
// Staging, then move it to Dir.
type Supervisor struct {
	Staging, Dir string
	// Ready receives one line, "ok" or why the command did not start, and
	// is closed; the bg_run that started us is waiting on it.
	Ready io.WriteCloser
	// Env is the environment the command inherits (plus BG_TASK_ID); the
	// shell (bash, or sh without it) is found on its PATH.
	Env []string
	// Grace is the time between SIGTERM and SIGKILL when the tree is
	// killed; zero means procs.DefaultGrace.
	Grace time.Duration
	// OnRestart, if set, runs at the first restart by the task's policy
	// (notifications: "restarting", once).
	OnRestart func(context.Context, *Task)
	// OnFinish, if set, runs after the outcome is recorded (notifications).
	OnFinish func(context.Context, *Task)
	// Log receives the supervisor's own messages; nil discards them.
	Log *log.Logger
	// Ahead, when set, is what a spare prepared while it waited for its
	// task (see PrepareSpare); the first run uses it.
	Ahead *Ahead
	// Record, when set, is the new task's record, which Staging does not
	// hold yet (a spare's job: see Job).
	Record []string
}

// Run supervises the task until it ends and returns after recording how.
// It ignores SIGHUP; SIGTERM or SIGINT mean "stop the task" (bg_stop,
// recorded as killed), SIGUSR1 "reap it" (the reaper, recorded as reaped),
// RestartSignal "run it again now" (bgtask restart). A task with a
// restart policy (Task.Restart) is run again when its command exits as
// the policy says, under the same id and into the same logs, with a
// marker line per restart (RestartMarker).
func (sv *Supervisor) Run(ctx context.Context) error {
	if sv.Log == nil {
		sv.Log = log.New(io.Discard, "", 0)
	}
	keep := -1
	if f, ok := sv.Ready.(*os.File); ok {
		keep = int(f.Fd())
	}
	if sv.Ahead == nil {
		closeInherited(keep) // A spare did while it waited (PrepareSpare).
	}
	sig := sv.Ahead.signals()
	defer sig.stopListening()

	s, err := sv.begin(ctx)
	if err != nil {
		return err
	}
	defer s.end()
	status, code := sv.supervise(ctx, s, sig)
	if status == "" {
		status = StatusCompleted
		if *code != 0 {
			status = StatusFailed
		}
	}
	for _, c := range []io.Closer{s.outW, s.errW} {
		_ = c.Close() // Best effort: every byte read has been written.
	}
	if err := sv.record(ctx, s.t, s.capErr, status, code, time.Now()); err != nil {
		return err
	}
	if sv.OnFinish != nil {
		sv.OnFinish(ctx, s.t)
	}
	return nil
}

// signals are the requests a supervisor takes from other processes.
type signals struct {
	stop  chan os.Signal // SIGTERM, SIGINT: bg_stop; ReapSignal: the reaper
	again chan os.Signal // RestartSignal: bgtask restart
}

func listenSignals() *signals {
	signal.Ignore(syscall.SIGHUP)
	s := &signals{stop: make(chan os.Signal, 1), again: make(chan os.Signal, 1)}
	signal.Notify(s.stop, syscall.SIGTERM, syscall.SIGINT, ReapSignal)
	signal.Notify(s.again, RestartSignal)
	return s
}

func (s *signals) stopListening() {
	signal.Stop(s.stop)
	signal.Stop(s.again)
}

// stopStatus is the status a stop request records.
func stopStatus(sig os.Signal) string {
	if sig == ReapSignal {
		return StatusReaped
	}
	return StatusKilled
}

// session is a started task under supervision: its record, the run of
// its command under way, and where the output goes.
type session struct {
	t          *Task
	run        *running
	outW, errW io.WriteCloser
	out        *lineEnd      // outW, remembering the last byte for marker lines
	input      *switchWriter // the terminal bg_send writes to: the current run's
	capErr     *captureErrors
	timeout    <-chan time.Time // the auto-kill; nil for none
	end        func()           // releases what begin set up, after the outcome is recorded
}

// begin starts the command, reads its input (an interactive task's),
// tells Ready so, then opens its logs. On a failure to start it has told
// Ready why, and left no running process.
//
// The report goes before the logs are opened, which is most of a start's
// disk work after the record (two streams and capture_error's blank
// file, about 1 ms of a bg_run on the test VM): the caller needs only
// the record, whole and renamed into place, and the command's output
// waits in its terminal until the pumps copy it. A log that cannot be
// opened then does not undo a command that runs: its output is dropped
// and counted in capture_error, as when a log cannot be written later.
func (sv *Supervisor) begin(ctx context.Context) (*session, error) {
	t, run, err := sv.start(ctx)
	if err != nil {
		_, _ = fmt.Fprintf(sv.Ready, "%v\n", err) // Best effort: the caller may be gone.
		_ = sv.Ready.Close()
		return nil, err
	}
	s := &session{t: t, run: run, input: &switchWriter{w: run.masters[0]}}
	var ends []func()
	if t.Interactive {
		// Before the report, and into the terminal already: a bg_send
		// right after bg_run must find its input read, and delivered.
		stopInput, err := feedInput(t.Dir, s.input)
		if err != nil {
			sv.Log.Printf("input: %v", err) // The task runs on; Send will say nobody reads.
		} else {
			ends = append(ends, stopInput)
		}
	}
	_, _ = io.WriteString(sv.Ready, okReport(t)) // Best effort, as above.
	_ = sv.Ready.Close()
	sv.Ahead.awaitAnswered()
	sv.Ahead.adoptEnv()
	s.capErr = &captureErrors{dir: t.Dir}
	s.capErr.prepare()
	ends = append(ends, s.capErr.close)
	s.outW = sv.openLog(t, "stdout", s.capErr)
	s.errW = sv.openLog(t, "stderr", s.capErr)
	s.out = &lineEnd{w: s.outW, last: '\n'}
	if dl := t.Deadline(); !dl.IsZero() {
		timer := time.NewTimer(time.Until(dl))
		ends = append(ends, func() { timer.Stop() })
		s.timeout = timer.C
	}
	s.end = func() {
		for _, f := range slices.Backward(ends) {
			f()
		}
	}
	return s, nil
}

// openLog opens t's log of stream; one that cannot be opened is recorded
// in capture_error at once, and its writer drops all it is given.
func (sv *Supervisor) openLog(t *Task, stream string, capErr *captureErrors) io.WriteCloser {
	w, err := capture.NewWriter(t.Dir, stream, t.Log)
	if err == nil {
		return w
	}
	err = fmt.Errorf("open the log: %w", err)
	sv.Log.Printf("%s: %v; its output is dropped", stream, err)
	capErr.report(stream)(0, err)
	return droppingLog{err}
}

// droppingLog stands for a log that could not be opened: every write
// fails with why, which the pumps count as dropped.
type droppingLog struct{ err error }

func (d droppingLog) Write([]byte) (int, error) { return 0, d.err }
func (d droppingLog) Close() error              { return nil }

// supervise runs the command, and again as its restart policy or a
// restart request says, until it ends for good; status is "" when it
// exited on its own (code tells how). code is nil when it ended between
// two runs (stopped during a restart's backoff): no run's exit is its end,
// the last one's stays in last_exit_code.
func (sv *Supervisor) supervise(ctx context.Context, s *session, sig *signals) (status string, code *int) {
	auto := 0 // restarts by the policy, in this supervisor's life
	for {
		status, c, requested := sv.runOnce(ctx, s, sig)
		if status != "" || !requested && !s.t.Restart.Wants(c, auto) {
			return status, &c
		}
		if status := sv.restart(ctx, s, sig, c, requested, &auto); status != "" {
			return status, nil
		}
	}
}

// runOnce copies the output of the current run until it ends, or the
// timeout, a stop or a restart request ends it; then no process of the
// task's tree is left. requested is a restart request's.
func (sv *Supervisor) runOnce(ctx context.Context, s *session, sig *signals) (status string, code int, requested bool) {
	run, t := s.run, s.t
	s.input.set(run.masters[0])
	copied := make(chan error, 2)
	go func() { copied <- pump(run.masters[0], s.out, s.capErr.report("stdout")) }()
	go func() { copied <- pump(run.masters[1], s.errW, s.capErr.report("stderr")) }()
	exited := make(chan error, 1)
	go func() { exited <- run.child.Wait() }()
	done := false
	select {
	case <-exited:
		done = true
	case <-s.timeout:
		status = StatusTimeout
		sv.Log.Printf("timeout after %s: killing the tree", t.Timeout)
	case got := <-sig.stop:
		status = stopStatus(got)
		sv.Log.Printf("%v: killing the tree", got)
	case <-sig.again:
		requested = true
		sv.Log.Printf("restart requested: killing the tree")
	}
	if !done && !requested && !procs.Alive(ctx, t.Root) {
		// The command ended on its own just before the stop or the
		// timeout took effect: record what really happened.
		<-exited
		done, status = true, ""
		sv.Log.Printf("the command had already exited")
	}
	// The command is done or must be: end whatever is left of its tree
	// (a task owns every process it started), then collect its status.
	sv.kill(ctx, t)
	if !done {
		<-exited
	}
	code = exitCode(run.child.ProcessState)
	s.input.set(nil)
	run.drain(copied, sv.Log)
	return status, code, requested
}

// restart records a restart, marks it in the stdout log, waits the
// policy's backoff and starts the command again as s's run. It returns
// the status the task ends with when that wait was cut short by a stop or
// the timeout, or the command could not start again; "" when it runs.
func (sv *Supervisor) restart(ctx context.Context, s *session, sig *signals, code int, requested bool, auto *int) string {
	t := s.t
	c := code
	t.LastExitCode = &c
	if err := writeFiles(t.Dir, fileLastExitCode, strconv.Itoa(code)); err != nil &&
		(!noRoom(err) || len(writeOnFullDisk(t.Dir, fileLastExitCode, strconv.Itoa(code))) > 0) {
		sv.Log.Printf("record exit code: %v", err) // bg_status shows it a restart late.
	}
	pause := time.Duration(0)
	if requested {
		s.out.marker("%s %d: exit %d, restarted on request]", RestartMarker, t.Restarts+1, code)
	} else {
		*auto++
		pause = t.Restart.Backoff
		of := ""
		if t.Restart.Max > 0 {
			of = fmt.Sprintf(" of %d", t.Restart.Max)
		}
		s.out.marker("%s %d%s: exit %d, starting again in %s (restart: %s)]", RestartMarker, *auto, of, code, pause, t.Restart.Policy)
		if *auto == 1 && sv.OnRestart != nil {
			sv.OnRestart(ctx, t) // Once: not one alert per crash.
		}
	}
	if pause > 0 {
		select {
		case <-time.After(pause):
		case <-sig.again:
		case <-s.timeout:
			return StatusTimeout
		case got := <-sig.stop:
			return stopStatus(got)
		}
	}
	// Counted as it happens: a task stopped in its backoff was not
	// restarted.
	next, err := sv.launch(ctx, t, t.ID)
	if err == nil {
		t.Root = next.root
		t.Restarts++
		kv := []string{filePID, strconv.Itoa(next.root.PID), filePIDStart, strconv.FormatInt(next.root.Start, 10),
			fileRestarts, strconv.Itoa(t.Restarts)}
		err = writeFiles(t.Dir, kv...)
		if noRoom(err) {
			// A full disk does not end a task its policy runs again: its
			// pid files, which it has, are overwritten in place (the
			// count of restarts too, from the second on).
			missing := writeOnFullDisk(t.Dir, kv...)
			if !slices.Contains(missing, filePID) && !slices.Contains(missing, filePIDStart) {
				sv.Log.Printf("disk full (%v): the new run recorded in place; not recorded: %q", err, missing)
				err = nil
			}
		}
		if err != nil {
			_ = syscall.Kill(-next.child.Process.Pid, syscall.SIGKILL) // It cannot be found by its pid.
			_ = next.child.Wait()
			closeAll(next.masters[:])
		}
	}
	if err != nil {
		s.out.marker("%s: could not start again: %v]", RestartMarker, err)
		return StatusFailed
	}
	s.run = next
	return ""
}

// RestartMarker begins the line written into a task's stdout log at each
// restart; the line gives the restart's number and the exit code.
const RestartMarker = "[bgtask: restart"

// RestartSignal asks a supervisor to run its command again now, under the
// same id (bgtask restart).
const RestartSignal = syscall.SIGUSR2

// running is one run of the command.
type running struct {
	child   *exec.Cmd
	masters [2]*os.File
	root    procs.Proc
}

// drain reads what the PTYs still buffer, then closes them; the tree is
// gone, so end of stream comes at once, unless a stranger holds a
// terminal.
func (r *running) drain(copied <-chan error, l *log.Logger) {
	for _, m := range r.masters {
		_ = m.SetReadDeadline(time.Now().Add(drainBound)) // Best effort: without it we wait for EOF.
	}
	for range r.masters {
		if err := <-copied; err != nil {
			l.Printf("capture: %v", err)
		}
	}
	closeAll(r.masters[:])
}

// start starts the command under two PTYs, records its pid and ours, and
// moves the task folder into place. A record given with the job (a
// spare's, see Job) is written into the staging folder while the command
// starts: the folder is only seen once it moves, so the order of its
// files does not matter, and the disk's work overlaps the shell's start.
func (sv *Supervisor) start(ctx context.Context) (*Task, *running, error) {
	var t *Task
	var err error
	if sv.Record != nil {
		t, err = readRecord(sv.Staging, sv.Record)
	} else {
		t, err = readTask(sv.Staging)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read task: %w", err)
	}
	self, err := sv.Ahead.self(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("record task: %w", err)
	}
	watchdog := []string{fileWatchdog, strconv.Itoa(self.PID), fileWatchdogStart, strconv.FormatInt(self.Start, 10)}
	var recorded chan error
	if sv.Record != nil {
		recorded = make(chan error, 1)
		kv := withBlankCaptureError(append(slices.Clip(sv.Record), watchdog...))
		go func() { recorded <- writeStaging(sv.Staging, kv...) }()
		watchdog = nil // Written with the record.
	}
	t.Dir = sv.Staging
	if t.Interactive {
		_ = os.Remove(filepath.Join(sv.Staging, fileInput)) // A run before this one's (Store.Restart); absent is fine.
		if err := makeInput(sv.Staging); err != nil {
			return nil, nil, errors.Join(err, wait(recorded))
		}
	}
	run, err := sv.launch(ctx, t, filepath.Base(sv.Dir))
	if err != nil {
		return nil, nil, errors.Join(err, wait(recorded))
	}
	err = wait(recorded)
	if err == nil {
		err = writeStaging(sv.Staging, append([]string{
			filePID, strconv.Itoa(run.root.PID), filePIDStart, strconv.FormatInt(run.root.Start, 10)}, watchdog...)...)
	}
	if err == nil {
		// The task appears complete, pid included, or not at all: under
		// a name no folder holds (Store.Start) or onto the empty folder
		// that holds it during a restart (Store.Restart). rename(2)
		// replaces an empty folder but never one that holds files;
		// os.Rename refuses any, hence the syscall.
		err = syscall.Rename(sv.Staging, sv.Dir)
	}
	if err != nil {
		_ = syscall.Kill(-run.child.Process.Pid, syscall.SIGKILL) // Nothing ran long enough to matter.
		_ = run.child.Wait()
		closeAll(run.masters[:])
		return nil, nil, fmt.Errorf("record task: %w", err)
	}
	t.Dir, t.ID, t.Root, t.Watchdog = sv.Dir, filepath.Base(sv.Dir), run.root, self
	return t, run, nil
}

// wait returns what done yields; nil for a nil channel (nothing to wait for).
func wait(done <-chan error) error {
	if done == nil {
		return nil
	}
	return <-done
}

// launch starts t's command under two fresh PTYs, as task id.
func (sv *Supervisor) launch(ctx context.Context, t *Task, id string) (*running, error) {
	r := &running{}
	var ttys [2]*os.File
	var err error
	if sv.Ahead != nil && sv.Ahead.masters[0] != nil {
		r.masters, ttys = sv.Ahead.masters, sv.Ahead.ttys
		sv.Ahead.masters, sv.Ahead.ttys = [2]*os.File{}, [2]*os.File{} // Once: a restart opens its own.
	} else {
		for i := range 2 {
			if r.masters[i], ttys[i], err = openPTY(); err != nil {
				closeAll(r.masters[:], ttys[:])
				return nil, err
			}
		}
	}
	cmd := exec.Command(shell(sv.Env), "-c", t.Command)
	cmd.Dir = t.Cwd
	cmd.Env = commandEnv(sv.Env, id)
	cmd.Stdout, cmd.Stderr = ttys[0], ttys[1]
	if t.Interactive {
		// Input typed into stdout's terminal (see feedInput) reaches the
		// command's stdin, echoed as on a real terminal.
		cmd.Stdin = ttys[0]
	}
	// Otherwise stdin stays nil: /dev/null. Setctty makes stdout's terminal
	// the controlling one; Ctty is a descriptor number in the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	// The thread that forks is the one the command's exec wakes: it asks
	// to be run at once then, not after the shell's start-up.
	runtime.LockOSThread()
	promptwake.Thread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	closeAll(ttys[:]) // The child has them; ours would hide its end of output.
	if err != nil {
		closeAll(r.masters[:])
		return nil, fmt.Errorf("start command in %s: %w", t.Cwd, err)
	}
	r.child = cmd
	if r.root, err = procs.Lookup(ctx, cmd.Process.Pid); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Not recorded: nothing could find it.
		_ = cmd.Wait()
		closeAll(r.masters[:])
		return nil, fmt.Errorf("record command: %w", err)
	}
	return r, nil
}

// lineEnd passes the stdout log's writes on, remembering the last
// byte, so that a marker line starts on a line of its own.
type lineEnd struct {
	mu   sync.Mutex
	w    io.Writer
	last byte
}

func (l *lineEnd) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// marker writes one line of the supervisor's own, after a line break if
// the command's last line had none.
func (l *lineEnd) marker(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf(format, args...) + "\n"
	if l.last != '\n' {
		line = "\n" + line
	}
	if _, err := io.WriteString(l.w, line); err == nil {
		l.last = '\n'
	}
}

// switchWriter sends input to the current run's terminal; between runs
// it is dropped (nobody could read it).
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	if w == nil {
		return len(p), nil
	}
	return w.Write(p)
}

func (sv *Supervisor) kill(ctx context.Context, t *Task) {
	res, err := procs.KillTree(ctx, procs.Target{Root: t.Root, Marker: t.ID, Grace: sv.Grace})
	if len(res.Signalled) > 0 {
		sv.Log.Printf("killed %d process(es), %d needed SIGKILL", len(res.Signalled), len(res.Forced))
	}
	if err != nil {
		sv.Log.Printf("kill tree: %v", err)
	}
}

// pump copies a PTY master into a log until the terminal side is closed by
// its last holder (Linux reports EIO then) or the read deadline passes.
// A failed write (a full disk) never stops it: the command must not block
// on a terminal nobody drains, so what cannot be written is dropped and
// reported, and writing is tried again with the next bytes.
func pump(master *os.File, w io.Writer, dropped func(n int, err error)) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			if k, werr := w.Write(buf[:n]); werr != nil {
				dropped(n-k, werr)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, syscall.EIO), errors.Is(err, os.ErrDeadlineExceeded):
			return nil
		default:
			return fmt.Errorf("read pty: %w", err)
		}
	}
}

// captureErrors counts what the pumps could not write and records it in
// the task folder's capture_error file, where bg_status and bg_output
// report it: at the first failure, then as the count grows (at most once
// per captureErrorEvery), and at the end. A disk that is full when output
// is dropped has no room for a new file either: the file is made at the
// start, blank (readers take a blank file as no error) and big enough,
// and later written in place, which needs no new block.
type captureErrors struct {
	dir string
	mu  sync.Mutex
	// Guarded by mu:
	f       *os.File // the prepared file, written in place; nil when it could not be made
	first   map[string]error
	dropped map[string]int64
	written bool      // the file holds the newest counts
	at      time.Time // when it was last written
}

// captureErrorSize is the prepared file's size: a message longer than
// that is cut.
const captureErrorSize = 1024

// captureErrorEvery bounds how often a growing count is written.
const captureErrorEvery = time.Second

// prepare opens the blank capture_error file that the start wrote with
// the record, or makes it, best effort: without it the message is
// written the usual way, which a full disk may refuse.
func (c *captureErrors) prepare() {
	f, err := os.OpenFile(filepath.Join(c.dir, fileCaptureError), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, captureErrorSize+1))
	switch {
	case err != nil:
		_ = f.Close() // Best effort: written the usual way then.
		return
	case len(b) == 0:
		if _, err := f.Write(blankCaptureError()); err != nil {
			_ = f.Close() // Best effort: written the usual way then.
			return
		}
	case len(b) != captureErrorSize || len(bytes.Trim(b, "\n")) > 0:
		_ = f.Close() // An earlier run's message (Store.Restart): kept, and replaced the usual way.
		return
	}
	c.f = f
}

// blankCaptureError is capture_error as prepared: no message, room for one.
func blankCaptureError() []byte { return bytes.Repeat([]byte{'\n'}, captureErrorSize) }

// withBlankCaptureError adds a blank capture_error to a new task's
// record (name/value pairs, as writeStaging takes them). It is made with
// the record, before the start is reported: a disk out of room or inodes
// fails the start then, rather than leaving a task whose logs could not
// be opened with no room to say so (a trial's finding).
func withBlankCaptureError(kv []string) []string {
	return append(slices.Clip(kv), fileCaptureError, string(blankCaptureError()[1:])) // writeStaging ends it with the last newline.
}

func (c *captureErrors) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		_ = c.f.Close() // Written in place already; nothing is buffered.
		c.f = nil
	}
}

func (c *captureErrors) report(stream string) func(int, error) {
	return func(n int, err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.first == nil {
			c.first, c.dropped = map[string]error{}, map[string]int64{}
		}
		if c.first[stream] == nil {
			c.first[stream] = err
		}
		c.dropped[stream] += int64(n)
		c.written = false
		// The first failure, then the count as it grows: say so while
		// the task runs.
		if time.Since(c.at) >= captureErrorEvery {
			c.writeLocked()
		}
	}
}

// flush records the final counts, best effort.
func (c *captureErrors) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first != nil && !c.written {
		c.writeLocked()
	}
}

func (c *captureErrors) writeLocked() {
	var parts []string
	for _, s := range []string{"stdout", "stderr"} {
		if err := c.first[s]; err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v; %d bytes dropped", s, err, c.dropped[s]))
		}
	}
	msg := strings.Join(parts, "; ")
	c.at = time.Now()
	if c.f != nil {
		b := bytes.Repeat([]byte{'\n'}, captureErrorSize)
		copy(b[:captureErrorSize-1], msg)
		if _, err := c.f.WriteAt(b, 0); err == nil {
			c.written = true
			return
		}
	}
	c.written = writeFiles(c.dir, fileCaptureError, msg) == nil
}

// record records the outcome and the capture error. On a full disk (no
// space or no inodes for Finish's new files) it frees the task's oldest
// rotated log segments, one at a time; with none left, it writes the
// status in place, with the exit code and end time if they fit
// (finishInPlace), so that the current output is kept and the task does
// not stay "running". Only when even that fails does it empty the
// current files (leaving a line that marks the gap), and then retry with
// a growing pause (a person may free space), for up to a day. An outcome
// recorded late is better than one lost.
//
// The capture error goes first, so whoever sees the final status also sees
// what output is missing.
func (sv *Supervisor) record(ctx context.Context, t *Task, capErr *captureErrors, status string, code *int, at time.Time) error {
	pause := 100 * time.Millisecond
	deadline := time.Now().Add(24 * time.Hour)
	discarded := map[string]bool{} // Each current file once: then only the gap's marker is left.
	for {
		if cur := readOne(t.Dir, fileStatus); cur != "" && cur != StatusRunning {
			// Recorded while we could not act (stopped by a tracer, so
			// bg_stop killed the tree itself): that record stands.
			sv.Log.Printf("already recorded as %s; not recording %s", cur, status)
			return nil
		}
		capErr.flush()
		err := Finish(t, status, code, at)
		if err == nil || !noRoom(err) || time.Now().After(deadline) {
			return err
		}
		if freed := freeOldestSegment(t.Dir); freed != "" {
			sv.Log.Printf("disk full: removed %s to record the outcome", freed)
			continue
		}
		// Before the current output goes: the status, in place.
		if missing, ierr := finishInPlace(t, status, code, at); ierr == nil {
			sv.Log.Printf("disk full (%v): recorded %s in place; not recorded: %q", err, status, missing)
			return nil
		}
		if freed := discardCurrent(t.Dir, discarded); freed != "" {
			sv.Log.Printf("disk full: %s to record the outcome", freed)
			continue
		}
		sv.Log.Printf("disk full: waiting for space to record %s", status)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// discardCurrent frees the larger non-empty current log file not freed
// before (see capture.DiscardCurrent), returning what it did, or "" when
// there is none.
func discardCurrent(dir string, done map[string]bool) string {
	streams := []string{"stdout", "stderr"}
	if size(filepath.Join(dir, "stderr")) > size(filepath.Join(dir, "stdout")) {
		streams[0], streams[1] = streams[1], streams[0]
	}
	for _, stream := range streams {
		if done[stream] {
			continue
		}
		n, err := capture.DiscardCurrent(dir, stream)
		if n > 0 {
			done[stream] = true
			what := fmt.Sprintf("deleted the %d bytes of %s's current segment", n, stream)
			if err != nil {
				what += fmt.Sprintf(" (%v)", err)
			}
			return what
		}
	}
	return ""
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// freeOldestSegment deletes the oldest rotated log segment of the task,
// returning its name, or "" when there is none.
func freeOldestSegment(dir string) string {
	var oldest, oldestTime string
	for _, stream := range []string{"stdout", "stderr"} {
		names, err := filepath.Glob(filepath.Join(dir, stream+"-*"))
		if err != nil {
			continue
		}
		for _, n := range names {
			// Backup names end in a timestamp that sorts in time order.
			if ts := strings.TrimPrefix(filepath.Base(n), stream+"-"); oldest == "" || ts < oldestTime {
				oldest, oldestTime = n, ts
			}
		}
	}
	if oldest == "" || os.Remove(oldest) != nil {
		return ""
	}
	return filepath.Base(oldest)
}

// commandEnv is env with BG_TASK_ID set to id (replacing an outer task's
// marker), TERM defaulted, since the streams are terminals, and without
// the variables of our own protocol (see protocolVar).
func commandEnv(env []string, id string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == procs.MarkerEnv || protocolVar(name)
	})
	if !slices.ContainsFunc(out, func(kv string) bool { return strings.HasPrefix(kv, "TERM=") }) {
		out = append(out, "TERM=xterm-256color")
	}
	return append(out, procs.MarkerEnv+"="+id)
}

// protocolVar reports whether name is a variable by which an agent speaks
// to our tools, which a task must not inherit from the call that started
// it: TOOLBOX_ACTION would make a task that runs one of our toolbox tools
// (or any other Amp toolbox tool) act on the agent's action, and the
// thread ids would make a task that reads tasks (a script calling
// `bgtask logs`, a nested agent) the agent's own reader, taking the
// lines and notices meant for the agent, and answer as if under Amp.
func protocolVar(name string) bool {
	switch name {
	case "TOOLBOX_ACTION", "AMP_THREAD_ID", "AGENT_THREAD_ID", "AMP_CURRENT_THREAD_ID",
		"BG_CALLER", "BG_CALL_LEFT": // remote.CallerEnv, remote.CallLeftEnv
		return true
	}
	return false
}

// shell is bash, found on env's PATH, or sh where bash is missing. It
// reads env, not the process's environment, which a spare has not made
// the caller's yet when it starts the command (see Ahead.adoptEnv).
func shell(env []string) string {
	if p := pathlook.Find("bash", envlist.Get(env, "PATH")); p != "" {
		return p
	}
	return "/bin/sh"
}

// exitCode is the command's exit status, 128+N for death by signal N as
// shells report it.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func closeAll(groups ...[]*os.File) {
	for _, g := range groups {
		for _, f := range g {
			if f != nil {
				_ = f.Close() // Best effort.
			}
		}
	}
}
