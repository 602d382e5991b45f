//go:build unix && !linux

package procs

import (
	"context"
	"syscall"
)

// sendSignal sends sig to p if p still started at p.Start. Without pidfds the
// check and the kill are two steps; the window is the time between them.
func sendSignal(p Proc, sig syscall.Signal) error { return signalChecked(p, sig) }

func signalGroup(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }

func waitGone(ctx context.Context, ps []Proc) { pollGone(ctx, ps) }
