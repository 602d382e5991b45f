//go:build linux

package procs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sendSignal sends sig to p only if p is still the process that started at
// p.Start. A pidfd pins the process: once opened, the PID cannot be reused
// under it, so the start-time check and the signal cannot race.
func sendSignal(p Proc, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(p.PID, 0)
	if errors.Is(err, unix.ENOSYS) {
		return signalChecked(p, sig) // Kernel older than 5.3.
	}
	if err != nil {
		return errStale
	}
	defer func() { _ = unix.Close(fd) }() // Best effort.
	cur, err := Lookup(context.Background(), p.PID)
	if err != nil || cur.Start != p.Start {
		return errStale
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

func signalGroup(pgid int, sig syscall.Signal) error {
	return unix.Kill(-pgid, sig)
}

// waitGone returns when every process in ps has exited or ctx is done. It
// waits on pidfds, which become readable when their process exits, rather
// than polling the process table.
func waitGone(ctx context.Context, ps []Proc) {
	var fds []unix.PollFd
	for _, p := range ps {
		fd, err := unix.PidfdOpen(p.PID, 0)
		if err != nil {
			if errors.Is(err, unix.ENOSYS) {
				pollGone(ctx, ps)
				return
			}
			continue // Already gone.
		}
		if cur, err := Lookup(ctx, p.PID); err != nil || cur.Start != p.Start {
			_ = unix.Close(fd) // Best effort.
			continue
		}
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	defer func() {
		for _, f := range fds {
			_ = unix.Close(int(f.Fd)) // Best effort.
		}
	}()
	for len(fds) > 0 {
		wait := 100 * time.Millisecond // Wake up to notice ctx.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = time.Until(dl)
		}
		if ctx.Err() != nil || wait <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(wait/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n <= 0 {
			continue
		}
		live := fds[:0]
		for _, f := range fds {
			if f.Revents != 0 {
				_ = unix.Close(int(f.Fd)) // Best effort.
				continue
			}
			live = append(live, f)
		}
		fds = live
	}
}
