package procs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// DefaultGrace is how long a tree gets between SIGTERM and SIGKILL.
const DefaultGrace = 5 * time.Second

// Target describes the tree to end.
type Target struct {
	// Root is the task's command process, as recorded when it started.
	Root Proc
	// Marker is the task id that descendants carry in MarkerEnv. Empty
	// means: follow parent links from Root only.
	Marker string
	// Grace is the time between SIGTERM and SIGKILL. Zero means DefaultGrace.
	Grace time.Duration
}

// KillResult says what KillTree did.
type KillResult struct {
	// Signalled lists the processes that got at least SIGTERM.
	Signalled []Proc
	// Forced lists those still alive after the grace period, sent SIGKILL.
	Forced []Proc
}

// StillRunningError reports processes that survived SIGKILL (stuck in an
// uninterruptible sleep, say) when KillTree gave up waiting.
type StillRunningError struct{ Procs []Proc }

func (e *StillRunningError) Error() string {
	return fmt.Sprintf("%d process(es) still running after SIGKILL: %v", len(e.Procs), e.Procs)
}

// KillTree ends the tree of t: SIGTERM to the root's process group and to
// every member, then SIGCONT (so that a stopped one runs its handler), up
// to Grace for them to exit, SIGKILL to what remains (including processes
// forked meanwhile), then a check that nothing is left. A member is signalled only through a handle that proves it is the
// same process that was found (a pidfd on Linux), so a PID reused between
// the walk and the signal is never hit.
//
// An empty tree is not an error: the work is already done.
func KillTree(ctx context.Context, t Target) (KillResult, error) {
	grace := t.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	var res KillResult
	found, err := treeOf(ctx, t)
	if err != nil || len(found) == 0 {
		return res, err
	}
	// The group first: processes forked a moment ago inherit it and are
	// not in our snapshot yet. Only when the recorded root still is the
	// group leader, since a process group id is a PID too.
	if Alive(ctx, t.Root) {
		_ = signalGroup(t.Root.PID, syscall.SIGTERM) // Best effort: members are signalled one by one below.
	}
	for _, p := range found {
		if sendSignal(p, syscall.SIGTERM) == nil {
			res.Signalled = append(res.Signalled, p)
		}
	}
	// A stopped process (SIGSTOP, ctrl-z) keeps SIGTERM pending and would
	// never run its handler: continue it, after SIGTERM so that the
	// handler runs before anything else.
	if Alive(ctx, t.Root) {
		_ = signalGroup(t.Root.PID, syscall.SIGCONT) // Best effort, as above.
	}
	for _, p := range res.Signalled {
		_ = sendSignal(p, syscall.SIGCONT) // Best effort: it may have exited on SIGTERM already.
	}
	waitCtx, cancel := context.WithTimeout(ctx, grace)
	waitGone(waitCtx, res.Signalled)
	cancel()
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// SIGKILL rounds: each pass re-reads the table, since a dying parent
	// may have forked. Three rounds cover a fork race; more means something
	// keeps spawning, which SIGKILL to the group also stops.
	for round := 0; round < 3; round++ {
		left, err := treeOf(ctx, t)
		if err != nil {
			return res, err
		}
		if len(left) == 0 {
			return res, nil
		}
		if round == 0 && Alive(ctx, t.Root) {
			_ = signalGroup(t.Root.PID, syscall.SIGKILL) // Best effort, as above.
		}
		for _, p := range left {
			if sendSignal(p, syscall.SIGKILL) == nil && round == 0 {
				res.Forced = append(res.Forced, p)
			}
		}
		killCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		waitGone(killCtx, left)
		cancel()
	}
	left, err := treeOf(ctx, t)
	if err != nil {
		return res, err
	}
	if len(left) > 0 {
		return res, &StillRunningError{Procs: left}
	}
	return res, nil
}

func treeOf(ctx context.Context, t Target) ([]Proc, error) {
	tab, err := Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("find process tree of %v: %w", t.Root, err)
	}
	return tab.Tree(t.Root, t.Marker), nil
}

// Wait returns when every process in ps has exited (or was never the
// recorded process), or when ctx is done.
func Wait(ctx context.Context, ps ...Proc) { waitGone(ctx, ps) }

// Signal sends sig to p if p is still the process that started at p.Start.
func Signal(p Proc, sig syscall.Signal) error {
	if err := sendSignal(p, sig); err != nil {
		return fmt.Errorf("signal %v: %w", p, err)
	}
	return nil
}

// errStale reports that a PID no longer names the process we meant.
var errStale = errors.New("pid reused or exited")
