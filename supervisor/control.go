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
	return s.endThroughSupervisor(ctx, t, syscall.SIGTERM, StatusKilled, grace)
}

// endThroughSupervisor asks the supervisor of the running task t, with
// sig, to end it and record the outcome, waits until it has exited, and
// returns t as recorded afterwards. When the supervisor is gone, stays
// stopped (traced), or cannot record (a full disk), it kills the tree
// itself and records status (StopNote says why).
func (s Store) endThroughSupervisor(ctx context.Context, t *Task, sig syscall.Signal, status string, grace time.Duration) (*Task, error) {
	how, why := waitExited, ""
	if err := procs.Signal(t.Watchdog, sig); err == nil {
		// A supervisor stopped by SIGSTOP keeps sig pending: continue
		// it, after sig so that ending the task is what it does first.
		_ = procs.Signal(t.Watchdog, syscall.SIGCONT) // Best effort: it may be gone already.
		how, why = waitSupervisor(ctx, t, supervisorWait(grace))
	}
	cur, err := s.Load(t.ID)
	if err != nil {
		return t, err
	}
	if cur.Status != StatusRunning || cur.Watchdog != t.Watchdog {
		return cur, nil // Recorded, or run again meanwhile (a restart): its new run is not what was asked to end.
	}
	switch how {
	case waitStuck:
		// Stopped by a tracer (a debugger), where SIGCONT does not reach:
		// it cannot act, so end the tree without it and say so.
		if _, err := procs.KillTree(ctx, procs.Target{Root: cur.Root, Marker: cur.ID, Grace: grace}); err != nil {
			return cur, fmt.Errorf("kill %s: %w", cur.ID, err)
		}
		if err := Finish(cur, status, nil, time.Now()); err != nil {
			return cur, err
		}
		cur.StopNote = fmt.Sprintf("its supervisor (pid %d) is stopped (traced?) and could not act, so the tree was killed without it", cur.Watchdog.PID)
		return cur, nil
	case waitUnrecorded:
		// The supervisor ended the tree and waits for space to record
		// it: what is left (nothing, normally) is ended here, and the
		// answer says what happened instead of waiting for a full disk.
		if _, err := procs.KillTree(ctx, procs.Target{Root: cur.Root, Marker: cur.ID, Grace: grace}); err != nil {
			return cur, fmt.Errorf("kill %s: %w", cur.ID, err)
		}
		cur.Unrecorded = why
		cur.StopNote = "tree killed; outcome not recorded: " + cur.Unrecorded
		return cur, nil
	}
	return s.takeOver(ctx, cur, status, grace)
}

// How waitSupervisor ended.
const (
	waitExited     = iota // the supervisor exited, or the wait timed out
	waitStuck             // the supervisor stays stopped (a tracer holds it)
	waitUnrecorded        // the tree is gone, the outcome cannot be recorded (a full disk)
)

// stuckFor is how long a supervisor may stay stopped after SIGCONT, or
// unable to record an outcome, before Stop acts without it.
const stuckFor = time.Second

// waitSupervisor waits up to d for the supervisor of t, asked to stop, to
// exit. It returns early when the supervisor stays stopped, or when the
// tree is gone and its outcome cannot be recorded (waitUnrecorded, with
// why: see Unrecorded).
func waitSupervisor(ctx context.Context, t *Task, d time.Duration) (how int, why string) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var stoppedSince, unrecordedSince time.Time
	since := func(cond bool, at *time.Time) bool {
		switch {
		case !cond:
			*at = time.Time{}
		case at.IsZero():
			*at = time.Now()
		default:
			return time.Since(*at) >= stuckFor
		}
		return false
	}
	for {
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		procs.Wait(wctx, t.Watchdog)
		wcancel()
		alive, stopped := procs.State(ctx, t.Watchdog)
		if ctx.Err() != nil || !alive {
			return waitExited, ""
		}
		if since(stopped, &stoppedSince) {
			return waitStuck, ""
		}
		if why := unrecorded(ctx, t); since(why != "", &unrecordedSince) {
			return waitUnrecorded, why
		}
	}
}

// unrecorded says why the outcome of t, whose supervisor lives, is not
// recorded although its tree is gone: "disk full", or "" when nothing
// keeps it from being recorded (a supervisor takes milliseconds).
func unrecorded(ctx context.Context, t *Task) string {
	if procs.Alive(ctx, t.Root) || readOne(t.Dir, fileStatus) != StatusRunning || !diskFull(t.Dir) {
		return ""
	}
	// With the command gone, the supervisor may still be in its own
	// kill, giving a child that ignores SIGTERM its grace period, on a
	// disk nearly full but with room for the outcome. Checked last: it
	// reads the process table.
	if tab, err := procs.Snapshot(ctx); err != nil || len(tab.Tree(t.Root, t.ID)) > 0 {
		return ""
	}
	return "disk full"
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
// is recorded as killed now. A task whose command is gone while its
// supervisor cannot record the end (a full disk) gets Unrecorded. A task whose supervisor died while its
// command lives on stays running: the reaper (or bg_stop) ends it.
func (s Store) Settle(ctx context.Context, t *Task) (*Task, error) {
	if t.Status != StatusRunning {
		return t, nil
	}
	if procs.Alive(ctx, t.Watchdog) {
		t.Unrecorded = unrecorded(ctx, t)
		return t, nil
	}
	if procs.Alive(ctx, t.Root) {
		t.Unsupervised = true // Killed by hand or by OOM: nobody enforces the timeout.
		return t, nil
	}
	// The supervisor may have recorded the end just before exiting: only
	// a status read after it was seen dead is final.
	cur, err := s.Load(t.ID)
	if err != nil || cur.Status != StatusRunning || cur.Watchdog != t.Watchdog {
		// Recorded, or run again meanwhile under a supervisor of its
		// own (a restart, which Load waited for): not ours to settle.
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
