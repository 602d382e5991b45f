//go:build linux

package procs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
)

// statInfo is what one read of /proc/PID/stat tells.
type statInfo struct {
	ppid    int
	zombie  bool
	stopped bool  // by a signal (SIGSTOP, SIGTSTP) or a tracer
	start   int64 // ms since the epoch
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
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[19] field 22 (starttime).
	if len(f) < 20 {
		return statInfo{}, fmt.Errorf("parse stat of pid %d: %d fields", pid, len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ticks, err2 := strconv.ParseInt(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil {
		return statInfo{}, fmt.Errorf("parse stat of pid %d: bad field", pid)
	}
	return statInfo{
		ppid:    ppid,
		zombie:  f[0][0] == 'Z' || f[0][0] == 'X',
		stopped: f[0][0] == 'T' || f[0][0] == 't',
		start:   r.btime*1000 + ticks*1000/userHZ,
	}, nil
}

// statReader reads /proc/PID/stat files against one reading of the boot
// time, so that a walk over the process table reads /proc/stat once, not
// once per process.
type statReader struct{ btime int64 }

func newStatReader() (statReader, error) {
	bt, err := bootTime()
	if err != nil {
		return statReader{}, fmt.Errorf("read boot time: %w", err)
	}
	return statReader{btime: bt}, nil
}

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
