//go:build unix

package procs

import (
	"context"
	"syscall"
	"time"
)

func signalChecked(p Proc, sig syscall.Signal) error {
	cur, err := Lookup(context.Background(), p.PID)
	if err != nil || cur.Start != p.Start {
		return errStale
	}
	return syscall.Kill(p.PID, sig)
}

// pollGone is waitGone for systems without pidfds: there is no way to be
// told that an unrelated process exited, so look every 20 ms.
func pollGone(ctx context.Context, ps []Proc) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		alive := false
		for _, p := range ps {
			if Alive(ctx, p) {
				alive = true
				break
			}
		}
		if !alive {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
