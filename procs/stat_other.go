//go:build !linux

package procs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shirou/gopsutil/v3/process"
)

type statInfo struct {
	ppid    int
	zombie  bool
	stopped bool  // by a signal (SIGSTOP, SIGTSTP) or a tracer
	start   int64 // ms since the epoch
}

// statReader asks gopsutil, which on macOS and the BSDs reads one sysctl
// per process and needs no boot time of ours.
type statReader struct{}

func newStatReader() (statReader, error) { return statReader{}, nil }

func (statReader) read(ctx context.Context, pid int) (statInfo, error) {
	gp, err := process.NewProcessWithContext(ctx, int32(pid))
	if err != nil {
		return statInfo{}, fmt.Errorf("look up pid %d: %w", pid, ErrNotFound)
	}
	start, err1 := gp.CreateTimeWithContext(ctx)
	ppid, err2 := gp.PpidWithContext(ctx)
	st, err3 := gp.StatusWithContext(ctx)
	if err1 != nil || err2 != nil || err3 != nil {
		return statInfo{}, fmt.Errorf("look up pid %d: %w", pid, ErrNotFound)
	}
	return statInfo{ppid: int(ppid), zombie: slices.Contains(st, process.Zombie), stopped: slices.Contains(st, process.Stop), start: start}, nil
}

// usage asks gopsutil for pid's CPU use since it started and its
// resident memory (see the Linux version).
func usage(ctx context.Context, pid int, start int64, _ time.Time) (cpu float64, rss uint64, ok bool) {
	st, err := statReader{}.read(ctx, pid)
	if err != nil || st.zombie || (start != 0 && st.start != start) {
		return 0, 0, false
	}
	gp := &process.Process{Pid: int32(pid)} // Just looked up.
	if mi, err := gp.MemoryInfoWithContext(ctx); err == nil {
		rss = mi.RSS
	}
	cpu, _ = gp.CPUPercentWithContext(ctx)
	return cpu, rss, true
}
