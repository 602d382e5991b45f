package supervisor

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// ErrNotRunning reports a stop request for a task that has ended.
var ErrNotRunning = errors.New("not running")

// Stop ends a running task and returns it as recorded afterwards. It asks
// the supervisor, which stays the single writer of the outcome, and waits
// until it has exited; when the supervisor is gone, or stopped where
// SIGCONT does not reach it (traced), Stop kills the tree itself and
// records "killed" (StopNote says why). grace is the supervisor-less kill's time
// between SIGTERM and SIGKILL (zero: procs.DefaultGrace).
func (s Store) Stop(ctx context.Context, t *Task, grace time.Duration) (*Task, error) {
	if t.Status != StatusRunning {
		return t, fmt.Errorf("%s: %w (%s)", t.ID, ErrNotRunning, t.Status)
	}
	stuck := false
	if err := procs.Signal(t.Watchdog, syscall.SIGTERM); err == nil {
		// A supervisor stopped by SIGSTOP keeps SIGTERM pending: continue
		// it, after SIGTERM so that the stop is what it does first.
		_ = procs.Signal(t.Watchdog, syscall.SIGCONT) // Best effort: it may be gone already.
		stuck = waitSupervisor(ctx, t.Watchdog, supervisorWait(grace))
	}
	cur, err := s.Load(t.ID)
	if err != nil {
		return t, err
	}
	if cur.Status != StatusRunning {
		return cur, nil
	}
	if stuck {
		// Stopped by a tracer (a debugger), where SIGCONT does not reach:
		// it cannot act, so end the tree without it and say so.
		if _, err := procs.KillTree(ctx, procs.Target{Root: cur.Root, Marker: cur.ID, Grace: grace}); err != nil {
			return cur, fmt.Errorf("kill %s: %w", cur.ID, err)
		}
		if err := Finish(cur, StatusKilled, nil, time.Now()); err != nil {
			return cur, err
		}
		cur.StopNote = fmt.Sprintf("its supervisor (pid %d) is stopped (traced?) and could not act, so the tree was killed without it", cur.Watchdog.PID)
		return cur, nil
	}
	return s.takeOver(ctx, cur, StatusKilled, grace)
}

// stuckFor is how long a supervisor may stay stopped after SIGCONT before
// Stop acts without it.
const stuckFor = time.Second

// waitSupervisor waits up to d for a supervisor asked to stop to exit. It
// returns true early when the supervisor stays stopped (a tracer holds it).
func waitSupervisor(ctx context.Context, sv procs.Proc, d time.Duration) (stuck bool) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var stoppedSince time.Time
	for {
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		procs.Wait(wctx, sv)
		wcancel()
		if ctx.Err() != nil || !procs.Alive(ctx, sv) {
			return false
		}
		switch {
		case !procs.Stopped(ctx, sv):
			stoppedSince = time.Time{}
		case stoppedSince.IsZero():
			stoppedSince = time.Now()
		case time.Since(stoppedSince) >= stuckFor:
			return true
		}
	}
}

// supervisorWait is how long to wait for a supervisor asked to stop: its
// grace period and a SIGKILL round, with room for a loaded machine.
func supervisorWait(grace time.Duration) time.Duration {
	return max(grace, procs.DefaultGrace) + 10*time.Second
}

// takeOver kills the tree of a task whose supervisor is gone and records
// status, unless the supervisor is found alive after all.
func (s Store) takeOver(ctx context.Context, t *Task, status string, grace time.Duration) (*Task, error) {
	if procs.Alive(ctx, t.Watchdog) {
		return t, fmt.Errorf("%s: supervisor %v did not stop", t.ID, t.Watchdog)
	}
	if _, err := procs.KillTree(ctx, procs.Target{Root: t.Root, Marker: t.ID, Grace: grace}); err != nil {
		return t, fmt.Errorf("kill %s: %w", t.ID, err)
	}
	if err := Finish(t, status, nil, time.Now()); err != nil {
		return t, err
	}
	return t, nil
}

// Settle corrects a task recorded as running whose supervisor and command
// are both gone (SIGKILL, OOM, reboot): nobody will record its end, so it
// is recorded as killed now. A task whose supervisor died while its
// command lives on stays running: the reaper (or bg_stop) ends it.
func (s Store) Settle(ctx context.Context, t *Task) (*Task, error) {
	if t.Status != StatusRunning || procs.Alive(ctx, t.Watchdog) {
		return t, nil
	}
	if procs.Alive(ctx, t.Root) {
		t.Unsupervised = true // Killed by hand or by OOM: nobody enforces the timeout.
		return t, nil
	}
	// The supervisor may have recorded the end just before exiting: only
	// a status read after it was seen dead is final.
	cur, err := s.Load(t.ID)
	if err != nil || cur.Status != StatusRunning {
		return cur, err
	}
	at := time.Now()
	if cur.Watchdog.PID == 0 {
		at = time.Time{} // Never supervised: when it ended is not known.
	}
	if err := Finish(cur, StatusKilled, nil, at); err != nil {
		return cur, err
	}
	return cur, nil
}
