package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// RestartRequest is how Store.Restart runs an ended task again.
type RestartRequest struct {
	// Executable and Env are as in Request.
	Executable string
	Env        []string
	// Grace is the supervisor-less kill's time (see Stop).
	Grace time.Duration
}

// Restart runs t's command again under the same id, into the same logs,
// and returns t as recorded afterwards. A running task's supervisor is
// asked (RestartSignal): it ends the tree and starts the command at once.
// An ended task's folder gets a new supervisor: its logs and readers'
// cursors stay, its outcome is cleared, its restarts counted, and a
// marker line in its stdout log gives the exit code it had.
func (s Store) Restart(ctx context.Context, t *Task, r RestartRequest) (*Task, error) {
	if t.Status == StatusRunning {
		if err := procs.Signal(t.Watchdog, RestartSignal); err == nil {
			return s.awaitRestart(ctx, t, r.Grace)
		}
		// Its supervisor is gone: end what is left, then run it again.
		stopped, err := s.Stop(ctx, t, r.Grace)
		if err != nil {
			return t, err
		}
		t = stopped
	}
	return s.restartEnded(ctx, t, r)
}

// awaitRestart waits for the supervisor of the running task t, sent
// RestartSignal, to record the new run (or an end).
func (s Store) awaitRestart(ctx context.Context, t *Task, grace time.Duration) (*Task, error) {
	_ = procs.Signal(t.Watchdog, syscall.SIGCONT) // Best effort: as for Stop.
	deadline := time.Now().Add(supervisorWait(grace))
	for time.Now().Before(deadline) {
		cur, err := s.Load(t.ID)
		if err != nil {
			return t, err
		}
		if cur.Restarts > t.Restarts || cur.Status != StatusRunning {
			return cur, nil
		}
		if cur.Root.PID != t.Root.PID && cur.Root.Start != t.Root.Start {
			// Run again, on a full disk: the pid files were written in
			// place, and the count of restarts, a file the task did not
			// have yet, could not be. (Both pid files new: not one read
			// between the writes of a usual restart.)
			cur.Restarts = t.Restarts + 1
			return cur, nil
		}
		select {
		case <-ctx.Done():
			return cur, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return t, fmt.Errorf("restart %s: its supervisor (pid %d) did not restart it", t.ID, t.Watchdog.PID)
}

// restartEnded gives the ended task t's folder a new supervisor, which
// runs its command again.
func (s Store) restartEnded(ctx context.Context, t *Task, r RestartRequest) (*Task, error) {
	if t.Command == "" {
		return t, fmt.Errorf("%s records no command to run again", t.ID)
	}
	if fi, err := os.Stat(t.Cwd); err != nil || !fi.IsDir() {
		// Checked before the record changes: the shell's start would
		// fail as "fork/exec bash: no such file", after a restart marker.
		return t, fmt.Errorf("cannot run %s again: its folder %s no longer exists", t.Name(), t.Cwd)
	}
	exe := r.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return t, fmt.Errorf("find own executable: %w", err)
		}
	}
	// The folder moves aside as the staging folder a start fills, and the
	// new run's supervisor renames it back once the command runs (Load
	// waits for it meanwhile). No empty folder is reserved in its place:
	// a reader that loaded the task before the move writes its cursors
	// there, and a folder that holds files cannot be renamed onto, so
	// the task stayed in its staging folder for good (a trial's finding,
	// once in 12 to 39 restarts under readers). Nothing creates the
	// folder meanwhile; the staging folder keeps the id from new starts.
	// The ended index must not list it as ended once it runs: it is
	// dropped, and kept out until the folder no longer says it ended.
	unlock, err := s.forgetEnded(t.ID)
	if err != nil {
		return t, fmt.Errorf("restart %s: %w", t.ID, err)
	}
	staging := filepath.Join(s.Dir, ".staging-"+t.ID)
	err = os.Rename(t.Dir, staging)
	unlock()
	if err != nil {
		return t, fmt.Errorf("restart %s: %w", t.ID, err)
	}
	undo := func() {
		// The record as it was, then back in place; best effort.
		old := []string{fileRestarts, strconv.Itoa(t.Restarts), fileStartedAt, t.StartedAt.UTC().Format(TimeLayout)}
		if !t.FinishedAt.IsZero() {
			old = append(old, fileFinishedAt, t.FinishedAt.UTC().Format(TimeLayout))
		}
		if t.ExitCode != nil {
			old = append(old, fileExitCode, strconv.Itoa(*t.ExitCode))
		}
		if t.LastExitCode != nil {
			old = append(old, fileLastExitCode, strconv.Itoa(*t.LastExitCode))
		} else {
			_ = os.Remove(filepath.Join(staging, fileLastExitCode)) // Absent is fine.
		}
		_ = writeStaging(staging, append(old, fileStatus, t.Status)...)
		_ = os.Rename(staging, t.Dir)
	}
	for _, f := range []string{fileFinishedAt, fileExitCode} {
		_ = os.Remove(filepath.Join(staging, f)) // Absent is fine.
	}
	restarts := t.Restarts + 1
	kv := []string{fileRestarts, strconv.Itoa(restarts), fileStartedAt, time.Now().UTC().Format(TimeLayout), fileStatus, StatusRunning}
	ended := "ended " + t.Status // Its exit code when one is recorded: a stopped or reaped task has none.
	if t.ExitCode != nil {
		ended += fmt.Sprintf(" (exit %d)", *t.ExitCode)
		kv = append(kv, fileLastExitCode, strconv.Itoa(*t.ExitCode))
	}
	if err := writeStaging(staging, kv...); err != nil {
		undo()
		return t, fmt.Errorf("restart %s: %w", t.ID, err)
	}
	appendMarker(filepath.Join(staging, "stdout"), fmt.Sprintf("%s %d: %s, restarted on request]", RestartMarker, restarts, ended))
	if _, err := s.startSupervisor(exe, Job{Staging: staging, Dir: t.Dir, Env: r.Env}, false); err != nil {
		undo()
		return t, &StartError{Command: t.Command, Err: err}
	}
	return s.Load(t.ID)
}

// appendMarker appends line to the log at path, on a line of its own.
func appendMarker(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return // Best effort: the restart itself matters more.
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(path); err == nil {
			if _, err := r.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
				line = "\n" + line
			}
			_ = r.Close()
		}
	}
	_, _ = f.WriteString(line + "\n")
}

// RestartsOf reads how often task id's command was run again, one small
// file, without the rest of its record: the notices look at every
// running task on every call.
func (s Store) RestartsOf(id string) int {
	if taskid.ValidID(id) != nil {
		return 0
	}
	n, _ := strconv.Atoi(readSmall(filepath.Join(s.Dir, id, fileRestarts)))
	return n
}

// EndedAt is when task id last ended, from its record alone (one small
// file): zero when it has not ended or the record does not say. A
// restarted task ends again at another time, which is how a reader's
// memory of the ends it was told tells a restart's end from the first.
func (s Store) EndedAt(id string) time.Time {
	if taskid.ValidID(id) != nil {
		return time.Time{}
	}
	at, _ := time.Parse(TimeLayout, readSmall(filepath.Join(s.Dir, id, fileFinishedAt)))
	return at
}
