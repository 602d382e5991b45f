package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/minutes"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/statedir"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// Status words, as written in a task's "status" file.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed" // exit 0
	StatusFailed    = "failed"    // non-zero exit
	StatusKilled    = "killed"    // stopped by bg_stop, or found dead with nothing recorded
	StatusTimeout   = "timeout"   // killed by the supervisor at the timeout
	StatusReaped    = "reaped"    // killed by the reaper: too old, or orphaned
)

// TimeLayout is how times are written: UTC, seconds.
const TimeLayout = "2006-01-02T15:04:05Z"

// File names inside a task folder. The seed's names are a public
// interface: shell scripts and people read them.
const (
	fileCommand       = "command"
	fileLabel         = "label"
	fileCwd           = "cwd"
	fileStatus        = "status"
	filePID           = "pid"
	filePIDStart      = "pid_start_ms" // start time of pid, ms since epoch, against PID reuse
	fileWatchdog      = "watchdog_pid" // the supervisor
	fileWatchdogStart = "watchdog_start_ms"
	fileExitCode      = "exit_code"
	fileStartedAt     = "started_at"
	fileFinishedAt    = "finished_at"
	fileTimeout       = "timeout" // minutes as given; 0: none
	fileNotify        = "notify"  // failure|always|never; empty: the environment decides
	fileLogMaxBytes   = "log_max_bytes"
	fileLogBackups    = "log_backups"
	// fileCaptureError says what output could not be written (a full
	// disk) and how many bytes were dropped; absent or blank when nothing
	// was (the supervisor makes it blank at the start, to write it in place
	// on a full disk).
	fileCaptureError = "capture_error"
	fileInteractive  = "interactive"    // "true": stdin is a terminal fed through fileInput
	fileRestarts     = "restarts"       // how often the command was run again, under the same id
	fileLastExitCode = "last_exit_code" // the exit code before the latest restart
	fileRestart      = "restart"        // the restart policy: on_failure or always; absent: no
	fileMaxRestarts  = "max_restarts"   // 0 or absent: no limit
	fileBackoff      = "backoff_seconds"
	fileStack        = "stack"  // the stack file that declares the task's service (its label)
	fileInput        = ".input" // a FIFO: what Send writes, the supervisor types
	// FileSupervisorLog collects what the supervisor itself has to say
	// (a failed notification, a panic): never the task's output.
	FileSupervisorLog = "supervisor.log"
)

// Store is the state folder holding one folder per task.
type Store struct {
	// Dir is the state folder; see DefaultDir.
	Dir string
	// Spares, when set, are supervisors started ahead that Start and
	// Restart give their tasks to (a process answering many calls keeps
	// them); nil starts a supervisor for each task.
	Spares *Spares
	// Prepared, when set, holds staging folders made ahead that Start
	// writes its new tasks' records into (a process answering many
	// calls keeps them); nil makes each task's folder during its start.
	Prepared *PreparedFolders
}

// DefaultDir is $TASKS_DIR, else ${XDG_STATE_HOME:-$HOME/.local/state}/amp-bg-tasks.
// getenv is os.Getenv in production; tests pass their own. A relative
// TASKS_DIR is an error: each call would keep its tasks in the folder it
// runs from, and lose sight of the others. A relative XDG_STATE_HOME is
// ignored, as the XDG specification says.
func DefaultDir(getenv func(string) string) (string, error) { return statedir.Default(getenv) }

// ErrNoTask reports a well-formed id with no task folder.
var ErrNoTask = errors.New("no such task")

// Path returns the folder of task id, after validating id.
func (s Store) Path(id string) (string, error) {
	if err := taskid.ValidID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, id), nil
}

// Task is what a task folder records.
type Task struct {
	ID, Dir        string
	Command, Label string
	Cwd            string
	Status         string
	Root           procs.Proc // the command's process
	Watchdog       procs.Proc // the supervisor
	// Unsupervised is set by Settle when the command runs on but its
	// supervisor is gone: no timeout is enforced, no end will be recorded
	// until the reaper or bg_stop ends it. Not stored.
	Unsupervised bool
	// Unrecorded says why the outcome of a task whose command is gone is
	// not recorded yet while its supervisor lives ("disk full"); set by
	// Settle and Stop. Not stored.
	Unrecorded string
	// StopNote says what Stop had to do beyond the usual (a stopped
	// supervisor, an outcome that could not be recorded). Not stored.
	StopNote string
	// CaptureError says what output could not be written (a full disk)
	// and how many bytes were dropped; "" when nothing was.
	CaptureError string
	// Unreadable names the record's fields whose file holds no valid
	// value (damaged by hand, by a tool, by a disk): each reads as unknown
	// (its zero value) and is said here, so that one bad file costs that
	// field and never the task ("timeout: \"NaN\" is not a number of
	// minutes").
	Unreadable []string
	// Interactive tasks read stdin from a terminal that Send types into.
	Interactive bool
	// Restarts counts how often the command was run again under this id:
	// by its restart policy or by bgtask restart.
	Restarts int
	// LastExitCode is the exit code of the run before the latest
	// restart; nil before any.
	LastExitCode *int
	// Restart is when the supervisor runs the command again.
	Restart RestartPolicy
	// Stack is the stack file (Procfile, process-compose.yaml) that
	// declares the task as the service named by its label; "" for a task
	// started by command.
	Stack      string
	ExitCode   *int
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	// Timeout is the auto-kill delay; 0 disables it. The task's file
	// holds it in minutes, as bg_run takes it.
	Timeout time.Duration
	Notify  string
	Log     capture.WriterOptions
}

// Restart policies.
const (
	RestartNo        = "no"
	RestartOnFailure = "on_failure"
	RestartAlways    = "always"
)

// RestartPolicy says when a task's supervisor runs its command again
// after it exits on its own (a stop, a timeout or the reaper end it for
// good).
type RestartPolicy struct {
	Policy  string        // RestartNo (or ""), RestartOnFailure or RestartAlways
	Max     int           // restarts by the policy at most; 0: no limit
	Backoff time.Duration // the pause before each
}

// Wants reports whether the policy runs the command again after it exited
// with code, having restarted it done times already.
func (p RestartPolicy) Wants(code, done int) bool {
	if p.Max > 0 && done >= p.Max {
		return false
	}
	switch p.Policy {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return code != 0
	}
	return false
}

// On reports whether the policy runs the command again at all: not "no",
// nor "" (a request that gave none; a task read from disk says "no").
func (p RestartPolicy) On() bool { return p.Policy != "" && p.Policy != RestartNo }

// Check reports a policy that is not one of the known words, or bounds
// out of range.
func (p RestartPolicy) Check() error {
	switch p.Policy {
	case "", RestartNo, RestartOnFailure, RestartAlways:
	default:
		return fmt.Errorf("restart %q: want no, on_failure or always", p.Policy)
	}
	if p.Max < 0 || p.Backoff < 0 {
		return fmt.Errorf("max_restarts and backoff_seconds must not be negative")
	}
	return nil
}

// Deadline is when the supervisor kills the task, or zero for none.
func (t *Task) Deadline() time.Time {
	if t.Timeout <= 0 {
		return time.Time{}
	}
	return t.StartedAt.Add(t.Timeout)
}

// Name is how messages name t: its label and id, or its id when it has
// no label of its own. People know a task by the label they gave it,
// agents by the id they pass back.
func (t *Task) Name() string {
	if t.Label == "" || t.Label == t.ID {
		return t.ID
	}
	return fmt.Sprintf("%s (%s)", t.Label, t.ID)
}

// Load reads task id. A task whose record is on its way into place is
// waited for, rather than said not to exist: a restart moves the folder
// aside as the staging folder, and the new run's supervisor renames it
// back once the command runs again, a few milliseconds later.
func (s Store) Load(id string) (*Task, error) {
	dir, err := s.Path(id)
	if err != nil {
		return nil, err
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	t, err := loadDir(id, dir)
	if !errors.Is(err, ErrNoTask) {
		return t, err
	}
	staging := filepath.Join(s.Dir, ".staging-"+id)
	for deadline := time.Now().Add(stagedWait); ; time.Sleep(5 * time.Millisecond) {
		if _, serr := os.Lstat(staging); serr != nil {
			return loadDir(id, dir) // None under way, or it just ended.
		}
		if t, err := loadDir(id, dir); !errors.Is(err, ErrNoTask) {
			return t, err
		}
		if time.Now().After(deadline) {
			// A new task's start and a restart look alike here.
			return nil, fmt.Errorf("task %s is being started (or started again), and has not recorded itself after %s (its record is in %s)", id, stagedWait, staging)
		}
	}
}

// stagedWait bounds Load's wait for a record on its way into place: a
// supervisor's start, on a loaded box.
const stagedWait = 5 * time.Second

// loadDir reads the task in dir; ErrNoTask when no record is there.
func loadDir(id, dir string) (*Task, error) {
	if err := checkTaskDir(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNoTask, id)
		}
		return nil, err
	}
	t, err := readTask(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoTask, id)
	}
	return t, err
}

// List returns every task, oldest first. Folders that are not tasks, or
// whose creation has not finished, are skipped.
func (s Store) List() ([]*Task, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var out []*Task
	for _, id := range ids {
		t, err := readTask(filepath.Join(s.Dir, id))
		if err != nil {
			continue // Being created or removed right now, or refused.
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Task) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// TaskRef is a task's id and status, read without the rest of its record:
// the cheap first pass of a listing that shows only some tasks in full.
type TaskRef struct {
	ID, Status string
	StartedAt  time.Time // from the id's seconds
	// FinishedAt is when the task ended, to the second, when the ended
	// index says so; zero when the listing did not learn it (read the
	// task for it).
	FinishedAt time.Time
	indexed    bool // Status came from the ended index
}

// UnindexedEnds counts the ended tasks of refs that the ended index did
// not know: each cost the listing a small file's read.
func UnindexedEnds(refs []TaskRef) int { return len(unindexedEnds(refs)) }

// unindexedEnds lists the ids of UnindexedEnds.
func unindexedEnds(refs []TaskRef) []string {
	var ids []string
	for _, r := range refs {
		if !r.indexed && endedStatus(r.Status) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// RememberEnded adds the ended tasks of refs (a whole listing, as Refs
// returns it) that the ended index does not know yet, so that the next
// listing need not read their status; ids whose folders are gone are
// dropped then too (until then they cost a line, never a wrong answer:
// only names listed are looked up). Listings that people and agents ask
// for call it (bg_status); it writes only when a task ended since. Best
// effort, as the index is only a cache.
func (s Store) RememberEnded(refs []TaskRef) {
	fresh := unindexedEnds(refs)
	if len(fresh) == 0 {
		return
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	s.rememberEnded(fresh, presentIn(ids))
}

// Refs lists every task's id and status, oldest first (by the seconds in
// the id, then the id). Folders without a status (being created) are
// skipped.
//
// Task folders are not checked one by one here (only the store is): a
// status read from a planted folder misleads nobody, and every task
// shown or acted on is loaded, and checked, again. Tasks in the ended
// index (see ended.go) are listed from it, without a read of their own;
// Refs never writes it (see RememberEnded).
func (s Store) Refs() ([]TaskRef, error) {
	ids, err := s.listIDs(false)
	if err != nil {
		return nil, err
	}
	out := make([]TaskRef, 0, len(ids))
	idx := s.readEnded()
	for _, id := range ids {
		if l, ok := idx.find([]byte(id)); ok {
			r := TaskRef{ID: id, Status: idx.statusOf(l), StartedAt: idTime(id), indexed: true}
			if l.finishedAtSec > 0 {
				r.FinishedAt = time.Unix(l.finishedAtSec, 0)
			}
			out = append(out, r)
			continue
		}
		st := readSmall(filepath.Join(s.Dir, id, fileStatus))
		if st == "" {
			continue
		}
		out = append(out, TaskRef{ID: id, Status: st, StartedAt: idTime(id)})
	}
	slices.SortFunc(out, func(a, b TaskRef) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// presentIn returns whether an id is one of ids.
func presentIn(ids []string) func(string) bool {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return func(id string) bool { return set[id] }
}

// ids lists the folder names in the store that are task ids, in trusted
// task folders (see Check); a store not created yet holds none.
func (s Store) ids() ([]string, error) { return s.listIDs(true) }

// listIDs is ids, with the check of each task folder optional.
func (s Store) listIDs(checkEach bool) ([]string, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	var ids []string
	err := eachName(s.Dir, storeListBuf, func(name []byte, maybeDir bool) {
		if maybeDir && taskid.Valid(name) {
			ids = append(ids, string(name))
		}
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	slices.Sort(ids)
	if checkEach {
		ids = slices.DeleteFunc(ids, func(id string) bool { return checkTaskDir(filepath.Join(s.Dir, id)) != nil })
	}
	return ids, nil
}

func readTask(dir string) (*Task, error) { return fileReader{dir: dir}.task() }

// readRecord returns the task of folder dir whose files would hold
// record (pairs of a file's name and its value) as readTask reads them:
// a record not on disk yet, or known without reading it back.
func readRecord(dir string, record []string) (*Task, error) {
	fields := make(map[string]string, len(record)/2)
	for i := 0; i+1 < len(record); i += 2 {
		fields[record[i]] = record[i+1]
	}
	return fileReader{dir: dir, fields: fields}.task()
}

func (r fileReader) task() (*Task, error) {
	dir := r.dir
	t := &Task{ID: filepath.Base(dir), Dir: dir}
	t.Status = r.str(fileStatus)
	if r.err != nil {
		return nil, r.err // No status: not a (finished) task folder.
	}
	// Only status is required: folders made by the original tool, by hand
	// or by scripts may hold nothing else but the logs.
	r.listNames()
	t.Command = r.opt(fileCommand)
	t.Label = r.opt(fileLabel)
	t.Cwd = r.opt(fileCwd)
	t.Root = procs.Proc{PID: r.int(filePID), Start: int64(r.int(filePIDStart))}
	t.Watchdog = procs.Proc{PID: r.int(fileWatchdog), Start: int64(r.int(fileWatchdogStart))}
	if s := r.opt(fileExitCode); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			t.ExitCode = &n
		} else {
			r.bad(fileExitCode, s, "is not an exit code")
		}
	}
	t.StartedAt, _ = time.Parse(TimeLayout, r.opt(fileStartedAt))
	if t.StartedAt.IsZero() {
		t.StartedAt = idTime(t.ID)
	}
	t.FinishedAt, _ = time.Parse(TimeLayout, r.opt(fileFinishedAt))
	if t.FinishedAt.IsZero() && t.Watchdog.PID != 0 && endedStatus(t.Status) && r.fields == nil {
		t.FinishedAt = statusWritten(r.dir) // Recorded on a full disk (see endedAt).
	}
	if s := r.opt(fileTimeout); s != "" {
		m, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(m) || math.IsInf(m, 0) || m < 0 {
			r.bad(fileTimeout, s, "is not a number of minutes")
			m = 0
		}
		t.Timeout = Minutes(m)
	}
	t.Notify = r.opt(fileNotify)
	t.CaptureError = r.opt(fileCaptureError)
	t.Interactive = r.opt(fileInteractive) == "true"
	t.Restarts = r.int(fileRestarts)
	if s := r.opt(fileLastExitCode); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			t.LastExitCode = &n
		}
	}
	t.Stack = r.opt(fileStack)
	t.Restart.Policy = r.opt(fileRestart)
	if t.Restart.Policy == "" {
		t.Restart.Policy = RestartNo
	}
	t.Restart.Max = r.int(fileMaxRestarts)
	if secs, err := strconv.ParseFloat(r.opt(fileBackoff), 64); err == nil {
		t.Restart.Backoff = time.Duration(secs * float64(time.Second))
	}
	t.Log.MaxBytes = int64(r.int(fileLogMaxBytes))
	t.Log.Backups = r.int(fileLogBackups)
	if t.Label == "" {
		t.Label = t.ID
	}
	t.Unreadable = r.unreadable
	if t.Status == StatusRunning && t.Root.PID > 0 && t.Root.Start == 0 && !t.StartedAt.IsZero() {
		// The original's layout records no start time: a live PID is
		// the task's when its process started as the task did.
		if p, ok := procs.Adopt(context.Background(), t.Root.PID, t.StartedAt); ok {
			t.Root = p
		}
	}
	return t, r.err
}

// fileReader reads one-value files, remembering the first error of a
// required file; optional ones read as "" when missing.
type fileReader struct {
	dir string
	// fields, when set, holds the files' values instead of dir (see
	// readRecord).
	fields     map[string]string
	err        error
	unreadable []string // fields with invalid values, said as in Task.Unreadable
	// names, once listed, are the files in dir: an optional file not
	// among them is not opened (most of a task's twenty are optional,
	// and a failed open costs as much as a read).
	names  []string
	listed bool
}

// listNames lists the folder's files, so that opt skips those missing.
// It is called after status is read: every other file of an ended task
// is written before its status, so none is missed; a running task's
// files that appear later are read at the next load, as before. On an
// error nothing is listed and every file is tried.
func (r *fileReader) listNames() {
	var names []string
	if r.fields != nil {
		for name := range r.fields {
			names = append(names, name)
		}
		r.names, r.listed = names, true
		return
	}
	err := eachName(r.dir, 2<<10, func(name []byte, _ bool) { names = append(names, string(name)) })
	r.names, r.listed = names, err == nil
}

// bad records that field's file holds value, which what says is wrong.
func (r *fileReader) bad(field, value, what string) {
	if len(value) > 40 {
		value = value[:40] + "…"
	}
	r.unreadable = append(r.unreadable, fmt.Sprintf("%s: %q %s", field, value, what))
}

func (r *fileReader) str(name string) string {
	b, err := r.read(name)
	if err != nil && r.err == nil {
		r.err = err
	}
	return strings.TrimSpace(string(b))
}

func (r *fileReader) opt(name string) string {
	if r.listed && !slices.Contains(r.names, name) {
		return ""
	}
	b, _ := r.read(name)
	return strings.TrimSpace(string(b))
}

// read returns what file name holds: as written (the value and a
// newline) when it comes from fields.
func (r *fileReader) read(name string) ([]byte, error) {
	if r.fields == nil {
		return readMeta(filepath.Join(r.dir, name))
	}
	v, ok := r.fields[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(r.dir, name), Err: fs.ErrNotExist}
	}
	return []byte(v + "\n"), nil
}

func (r *fileReader) int(name string) int {
	s := r.opt(name)
	n, err := strconv.Atoi(s)
	if err != nil && s != "" {
		r.bad(name, s, "is not a number")
		return 0
	}
	return n // Some are negative by design: log_backups -1 keeps every segment.
}

// writeStaging writes name→value files into a staging folder that no
// reader can see yet: the rename of the whole folder makes them appear at
// once, so each file needs no rename of its own (bg_run's latency is in
// these syscalls).
func writeStaging(dir string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := writeMeta(filepath.Join(dir, kv[i]), []byte(kv[i+1]+"\n"), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", kv[i], err)
		}
	}
	return nil
}

// writeFiles writes name→value files atomically into dir.
func writeFiles(dir string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := atomicfile.WriteFile(filepath.Join(dir, kv[i]), []byte(kv[i+1]+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// finishInPlace records how a task ended where Finish cannot: on a disk
// with no room (space or inodes) for the new files it renames into
// place. The exit code and the end time go first, where there is room
// (writeOnFullDisk); the status last, into the file that says "running",
// in place. It returns what it could not record beside the status, and
// an error when the status itself could not be written.
func finishInPlace(t *Task, status string, exitCode *int, at time.Time) (missing []string, err error) {
	var kv []string
	if !at.IsZero() {
		kv = append(kv, fileFinishedAt, at.UTC().Format(TimeLayout))
	}
	if exitCode != nil {
		kv = append(kv, fileExitCode, strconv.Itoa(*exitCode))
	}
	missing = writeOnFullDisk(t.Dir, kv...)
	if err := writeInPlace(filepath.Join(t.Dir, fileStatus), []byte(status+"\n")); err != nil {
		return missing, fmt.Errorf("record end of %s in place: %w", t.ID, err)
	}
	t.Status = status
	if !slices.Contains(missing, fileExitCode) {
		t.ExitCode = exitCode
	}
	if !at.IsZero() && !slices.Contains(missing, fileFinishedAt) {
		t.FinishedAt = at.UTC().Truncate(time.Second)
	}
	return missing, nil
}

// writeOnFullDisk writes name/value files into dir where writeFiles
// cannot, on a disk with no room for the new files it renames into
// place: a file that exists is overwritten in place (writeInPlace: no
// inode, no block), one that does not is created if there is room. Not
// atomic. It returns the names it could not write.
func writeOnFullDisk(dir string, kv ...string) (missing []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		path := filepath.Join(dir, kv[i])
		data := []byte(kv[i+1] + "\n")
		err := writeInPlace(path, data)
		if errors.Is(err, fs.ErrNotExist) {
			if err = writeMeta(path, data, 0o600); err != nil {
				_ = os.Remove(path) // Best effort: an empty file reads as none, but is litter.
			}
		}
		if err != nil {
			missing = append(missing, kv[i])
		}
	}
	return missing
}

// endedAt is when the task in dir, recorded as ended, ended: finished,
// its finished_at, or for a task whose supervisor could record the
// status alone (a full disk: finishInPlace), the time that status was
// written. Zero when neither is known: a task nobody supervised (no
// watchdog_pid) gets no end invented.
func endedAt(dir string, finished time.Time) time.Time {
	if !finished.IsZero() || readSmall(filepath.Join(dir, fileWatchdog)) == "" {
		return finished
	}
	return statusWritten(dir)
}

// statusWritten is when dir's status file was last written, to the
// second as finished_at records it; zero if it cannot be read.
func statusWritten(dir string) time.Time {
	fi, err := os.Lstat(filepath.Join(dir, fileStatus))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime().UTC().Truncate(time.Second)
}

// noRoom reports whether err is a write's on a disk with no room left
// (space, inodes, or the user's quota).
func noRoom(err error) bool { return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) }

// Finish records how a task ended: exit code and end time first, status
// last, so whoever sees the final status also sees the rest.
//
// A zero at records no finished_at: the end of a task nobody supervised
// (made by the original tool, by hand) is not known, and is not invented.
func Finish(t *Task, status string, exitCode *int, at time.Time) error {
	var kv []string
	if !at.IsZero() {
		kv = append(kv, fileFinishedAt, at.UTC().Format(TimeLayout))
	}
	if exitCode != nil {
		kv = append(kv, fileExitCode, strconv.Itoa(*exitCode))
	}
	if err := writeFiles(t.Dir, append(kv, fileStatus, status)...); err != nil {
		return fmt.Errorf("record end of %s: %w", t.ID, err)
	}
	t.Status, t.ExitCode = status, exitCode
	if !at.IsZero() {
		t.FinishedAt = at.UTC().Truncate(time.Second)
	}
	return nil
}

// idTime is the start time a task id carries ("task-<unix seconds>-..."),
// for folders that record no started_at; zero when the id has none.
func idTime(id string) time.Time {
	rest, ok := strings.CutPrefix(id, "task-")
	if !ok {
		return time.Time{}
	}
	secs, _, _ := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// newID returns a fresh task id, its folder in the store (which does not
// exist) and the staging folder that stands for it until the task's
// supervisor renames it into place (List does not see it). The staging
// folder's mkdir makes the id unique among starts under way; a finished
// start's folder is checked for. A later start that still picked the id
// of a task that appeared meanwhile fails at that rename, which never
// replaces a folder that holds files.
//
// No empty folder is reserved under the task's own name: on ext4,
// renaming onto an empty folder costs twenty times a rename onto none
// (0.34 ms against 17 µs on this project's test VM), and the reservation's
// mkdir as much again, on every bg_run.
func (s Store) newID(now time.Time) (id, dir, staging string, err error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", "", "", fmt.Errorf("create state folder: %w", err)
	}
	if err := s.Check(); err != nil {
		return "", "", "", err
	}
	ahead := s.Prepared.take(s.Dir)
	for range 10 {
		// math/rand/v2's generator is seeded from the system's randomness
		// at start-up: ids differ across processes without linking
		// crypto/rand, whose initialisation every tool call would pay.
		// The folder's mkdir (or rename that replaces nothing), not the
		// randomness, is what makes it unique.
		id = fmt.Sprintf("task-%d-%08x", now.Unix(), rand.Uint32())
		dir, staging = filepath.Join(s.Dir, id), filepath.Join(s.Dir, ".staging-"+id)
		if ahead != "" {
			err = renameNoReplace(ahead, staging)
			if err != nil && !errors.Is(err, os.ErrExist) {
				_ = os.RemoveAll(ahead) // Best effort: the reaper removes it when old.
				ahead = ""
			}
		}
		if ahead == "" {
			err = os.Mkdir(staging, 0o700)
		}
		if err == nil {
			if _, serr := os.Lstat(dir); errors.Is(serr, os.ErrNotExist) {
				return id, dir, staging, nil
			}
			// Best effort: that id is taken. (A folder made ahead is
			// not made again: ids that collide are rare.)
			_ = os.RemoveAll(staging)
			ahead = ""
			err = os.ErrExist
			continue
		}
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	return "", "", "", fmt.Errorf("create task folder: %w", err)
}

// Remove deletes a finished task's folder. It first renames the folder
// away (to ".removing-<id>-<random>", which no listing shows), so the task
// vanishes at once and whole: a reader that opened it meanwhile, and may
// still write its cursor there, fails with "no such task" instead of
// making the removal fail with "directory not empty". What the removal
// cannot delete is left under the hidden name; the reaper retries it.
func (s Store) Remove(t *Task) error {
	if t.Status == StatusRunning {
		return fmt.Errorf("remove %s: still running", t.ID)
	}
	gone := filepath.Join(filepath.Dir(t.Dir), fmt.Sprintf(".removing-%s-%08x", t.ID, rand.Uint32()))
	if err := os.Rename(t.Dir, gone); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // Removed by someone else meanwhile.
		}
		return fmt.Errorf("remove %s: %w", t.ID, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		// A reader recreated a cursor file meanwhile: once more.
		if err = os.RemoveAll(gone); err != nil {
			return fmt.Errorf("remove %s: %w", t.ID, err)
		}
	}
	return nil
}

// Minutes is m minutes as a duration (see package minutes): the unit of
// the task files, the tools' timeout parameter and their JSON.
func Minutes(m float64) time.Duration { return minutes.Duration(m) }
