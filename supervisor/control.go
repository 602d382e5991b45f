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
// until it has exited; when the supervisor is gone, Stop kills the tree
// itself and records "killed". grace is the supervisor-less kill's time
// between SIGTERM and SIGKILL (zero: procs.DefaultGrace).
func (s Store) Stop(ctx context.Context, t *Task, grace time.Duration) (*Task, error) {
	if t.Status != StatusRunning {
		return t, fmt.Errorf("%s: %w (%s)", t.ID, ErrNotRunning, t.Status)
	}
	if err := procs.Signal(t.Watchdog, syscall.SIGTERM); err == nil {
		// The supervisor's own kill needs its grace period and a SIGKILL
		// round; wait longer than that before taking over.
		wctx, cancel := context.WithTimeout(ctx, supervisorWait(grace))
		procs.Wait(wctx, t.Watchdog)
		cancel()
	}
	cur, err := s.Load(t.ID)
	if err != nil {
		return t, err
	}
	if cur.Status != StatusRunning {
		return cur, nil
	}
	return s.takeOver(ctx, cur, StatusKilled, grace)
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
