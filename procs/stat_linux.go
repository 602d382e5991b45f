//go:build linux

package procs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// statInfo is what one read of /proc/PID/stat tells.
type statInfo struct {
	ppid    int
	zombie  bool
	stopped bool  // by a signal (SIGSTOP, SIGTSTP) or a tracer
	start   int64 // ms since the epoch
	// What bgtask top shows, from the same read: CPU time spent (user +
	// system, in ms) and resident memory (bytes).
	cpuMillis int64
	rss       uint64
}

// userHZ is the unit of /proc's clock-tick fields: fixed at 100 by the
// kernel's user-space ABI whatever the kernel's internal HZ.
const userHZ = 100

// read reads a process's parent, state and start time from
// /proc/PID/stat, once. gopsutil computes the start time from a boot time
// that, in containers, it derives from /proc/uptime and truncates to whole
// seconds, so two processes can disagree by a second about the same
// process; /proc/stat's btime is one fixed number. It also probes the
// virtualization type on every uncached call, which made a process-table
// walk cost milliseconds per process.
func (r statReader) read(_ context.Context, pid int) (statInfo, error) {
	var buf [1024]byte
	b, err := readProcFile("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if err != nil {
		return statInfo{}, fmt.Errorf("read stat of pid %d: %w", pid, ErrNotFound)
	}
	// The command name is in parentheses and may itself hold ") ": the
	// fields we want follow the last one.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return statInfo{}, fmt.Errorf("parse stat of pid %d: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[11] and f[12]
	// fields 14 and 15 (utime, stime), f[19] field 22 (starttime), f[21]
	// field 24 (rss, in pages).
	if len(f) < 22 {
		return statInfo{}, fmt.Errorf("parse stat of pid %d: %d fields", pid, len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ticks, err2 := strconv.ParseInt(string(f[19]), 10, 64)
	utime, err3 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err4 := strconv.ParseInt(string(f[12]), 10, 64)
	rss, err5 := strconv.ParseInt(string(f[21]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
		return statInfo{}, fmt.Errorf("parse stat of pid %d: bad field", pid)
	}
	return statInfo{
		ppid:      ppid,
		zombie:    f[0][0] == 'Z' || f[0][0] == 'X',
		stopped:   f[0][0] == 'T' || f[0][0] == 't',
		start:     r.btime*1000 + ticks*1000/userHZ,
		cpuMillis: (utime + stime) * 1000 / userHZ,
		rss:       uint64(max(rss, 0)) * uint64(os.Getpagesize()),
	}, nil
}

// statReader reads /proc/PID/stat files against one reading of the boot
// time, so that a walk over the process table reads /proc/stat once, not
// once per process.
type statReader struct{ btime int64 }

func newStatReader() (statReader, error) {
	bt, err := bootTimeOnce()
	if err != nil {
		return statReader{}, fmt.Errorf("read boot time: %w", err)
	}
	return statReader{btime: bt}, nil
}

// bootTimeOnce is bootTime read once per process: the boot time does not
// change while the system runs, and bgtask top would otherwise read
// /proc/stat on every refresh and for every task.
var bootTimeOnce = sync.OnceValues(bootTime)

// bootTime is /proc/stat's btime: seconds since the epoch at boot.
func bootTime() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, fmt.Errorf("no btime in /proc/stat")
}

// usage is pid's CPU use since it started (percent of one core, as
// gopsutil's CPUPercent counts it: CPU time over time alive) and its
// resident memory, from one read of /proc/PID/stat. gopsutil reads stat,
// statm, /proc/uptime and /proc/stat for the same figures; bgtask top asks
// for them for every process of every task each second. ok is false when
// pid is gone or is no longer the process that started at start.
func usage(ctx context.Context, pid int, start int64, now time.Time) (cpu float64, rss uint64, ok bool) {
	r, err := newStatReader()
	if err != nil {
		return 0, 0, false
	}
	st, err := r.read(ctx, pid)
	if err != nil || st.zombie || (start != 0 && st.start != start) {
		return 0, 0, false
	}
	if alive := now.UnixMilli() - st.start; alive > 0 {
		cpu = 100 * float64(st.cpuMillis) / float64(alive)
	}
	return cpu, st.rss, true
}

// readProcFile reads a small /proc file into buf with one open, read and
// close: os.ReadFile adds an fstat, an fcntl and a second read, and a
// process-table walk reads one stat per process every second in bgtask
// top. The kernel fills a /proc read in one go; a file that fills buf
// may hold more and is read in full.
func readProcFile(name string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var n int
	for {
		n, err = syscall.Read(fd, buf)
		if err != syscall.EINTR {
			break
		}
	}
	_ = syscall.Close(fd) // Read only.
	if err != nil {
		return nil, err
	}
	if n == len(buf) {
		return os.ReadFile(name)
	}
	return buf[:n], nil
}
