package callserver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
)

// A call must run where its caller would have run it: a process of the
// caller's inherits its namespaces, root, cgroup, credentials, limits,
// umask, nice and OOM score, and a sandbox is made of exactly these
// (bubblewrap's mount namespace, Landlock's no_new_privs, seccomp). A
// server started by someone else of the same user (another agent, a
// shell) may differ in any of them, so the server answers only callers
// whose context is its own, and tells the others to run the call
// themselves (the client then runs it as a process, as without the
// server).

// procContext is what a process's calls would inherit, as read from
// /proc: one line per item, compared whole.
type procContext []string

// readContext reads the context of process pid; an error when it is not
// visible here (another pid namespace) or is gone.
//
// Every call through the server pays for this, so it resolves
// /proc/<pid> once (an O_PATH descriptor the reads are relative to) and
// asks the scheduler's settings with one system call (sched_getattr)
// rather than have the kernel format /proc/<pid>/stat's 52 fields for
// three of them.
func readContext(pid int) (procContext, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("the caller's process is not visible from the server")
	}
	path := "/proc/" + strconv.Itoa(pid)
	dir, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() { _ = unix.Close(dir) }() // Read only.
	c := make(procContext, 0, 32)
	var buf [256]byte
	link := func(name string) (string, error) {
		n, err := unix.Readlinkat(dir, name, buf[:])
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: path + "/" + name, Err: err}
		}
		return string(buf[:n]), nil
	}
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time"} {
		l, err := link("ns/" + ns)
		if errors.Is(err, fs.ErrNotExist) && ns == "time" {
			continue // A kernel before 5.6 has none; then neither end has one.
		}
		if err != nil {
			return nil, err
		}
		c = append(c, "ns/"+ns+" "+l)
	}
	root, err := link("root")
	if err != nil {
		return nil, err
	}
	c = append(c, "root "+root)
	for _, f := range []string{"cgroup", "limits", "oom_score_adj"} {
		b, err := readProc(dir, path, f)
		if err != nil {
			return nil, err
		}
		c = append(c, f+" "+string(b))
	}
	status, err := readProc(dir, path, "status")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		name, _, _ := strings.Cut(line, ":")
		switch name {
		case "Umask", "Gid", "Groups", "NoNewPrivs", "Seccomp", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Cpus_allowed_list", "Mems_allowed_list":
			c = append(c, line)
		}
	}
	sched, err := readSched(pid, dir, path)
	if err != nil {
		return nil, err
	}
	c = append(c, sched...)
	// The I/O priority (ionice) is in no /proc file.
	prio, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(pid), 0)
	if errno != 0 {
		return nil, fmt.Errorf("ioprio_get %d: %w", pid, errno)
	}
	c = append(c, fmt.Sprintf("ioprio %d", prio))
	return c, nil
}

// readSched is the scheduling of process pid (whose /proc folder is open
// as dir): its policy and its flags (reset-on-fork), nice, real-time
// priority and deadline and utilisation settings, from sched_getattr;
// where that is refused (a kernel before 3.14, a seccomp filter that
// does not know it), nice, real-time priority and policy from stat.
// Both ends of a comparison read it alike: the server reads its own
// context with this.
func readSched(pid, dir int, path string) ([]string, error) {
	items, err := schedAttr(pid)
	if err == nil || errors.Is(err, unix.ESRCH) {
		return items, err
	}
	return schedFromStat(dir, path)
}

// schedAttr is readSched's sched_getattr: policy, nice and real-time
// priority named as schedFromStat names them, then what only it tells.
func schedAttr(pid int) ([]string, error) {
	a, err := unix.SchedGetAttr(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("sched_getattr %d: %w", pid, err)
	}
	return []string{
		fmt.Sprint("nice ", int32(a.Nice)), fmt.Sprint("rt_priority ", a.Priority), fmt.Sprint("policy ", a.Policy),
		fmt.Sprint("sched_flags ", a.Flags), fmt.Sprint("sched_deadline ", a.Runtime, " ", a.Deadline, " ", a.Period),
		fmt.Sprint("uclamp ", a.Util_min, " ", a.Util_max),
	}, nil
}

// schedFromStat is readSched's fallback: the fields of /proc/<pid>/stat
// (its folder open as dir) after the command's name, which may hold
// anything: field n of the line (numbered from 1 in proc(5)) is field
// n-3 after it: nice (19), rt_priority (40), policy (41).
func schedFromStat(dir int, path string) ([]string, error) {
	stat, err := readProc(dir, path, "stat")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 39 {
		return nil, fmt.Errorf("%s/stat: %d fields", path, len(f)+2)
	}
	return []string{"nice " + f[16], "rt_priority " + f[37], "policy " + f[38]}, nil
}

// readProc reads the file name of the /proc folder open as dir (path)
// with open, read and close alone (see smallfile), which is what each
// call pays for.
func readProc(dir int, path, name string) ([]byte, error) {
	b, err := smallfile.ReadIn(dir, name, 2048, 64<<10)
	if pe, ok := err.(*fs.PathError); ok {
		pe.Path = path + "/" + name
	}
	return b, err
}

// ioprioWhoProcess is IOPRIO_WHO_PROCESS: ioprio_get of one process.
const ioprioWhoProcess = 1

// sandboxed says why the process of context c runs in a sandbox that
// /proc cannot describe, "" when it does not: a seccomp filter (two
// filters read the same there) or no_new_privs (which Landlock needs,
// and whose rules /proc does not show). A server cannot tell that a
// caller's sandbox is its own, so such a caller is never served, and a
// server in one serves nobody.
func (c procContext) sandboxed() string {
	for _, item := range c {
		switch item {
		case "NoNewPrivs:\t1":
			return "no_new_privs (as Landlock needs)"
		case "Seccomp:\t1", "Seccomp:\t2":
			return "a seccomp filter"
		}
	}
	return ""
}

// differs names the first item in which c and o differ, "" when none.
func (c procContext) differs(o procContext) string {
	for i := range max(len(c), len(o)) {
		if i >= len(c) || i >= len(o) || c[i] != o[i] {
			var item string
			if i < len(c) {
				item = c[i]
			} else {
				item = o[i]
			}
			name, _, _ := strings.Cut(item, " ")
			name, _, _ = strings.Cut(name, ":")
			return name
		}
	}
	return ""
}
