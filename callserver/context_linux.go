package callserver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

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
func readContext(pid int) (procContext, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("the caller's process is not visible from the server")
	}
	dir := fmt.Sprintf("/proc/%d", pid)
	var c procContext
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time"} {
		l, err := os.Readlink(dir + "/ns/" + ns)
		if errors.Is(err, fs.ErrNotExist) && ns == "time" {
			continue // A kernel before 5.6 has none; then neither end has one.
		}
		if err != nil {
			return nil, err
		}
		c = append(c, "ns/"+ns+" "+l)
	}
	root, err := os.Readlink(dir + "/root")
	if err != nil {
		return nil, err
	}
	c = append(c, "root "+root)
	for _, f := range []string{"cgroup", "limits", "oom_score_adj"} {
		b, err := readProc(dir + "/" + f)
		if err != nil {
			return nil, err
		}
		c = append(c, f+" "+string(b))
	}
	status, err := readProc(dir + "/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, _, _ := strings.Cut(line, ":")
		switch name {
		case "Umask", "Gid", "Groups", "NoNewPrivs", "Seccomp", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Cpus_allowed_list", "Mems_allowed_list":
			c = append(c, line)
		}
	}
	stat, err := readProc(dir + "/stat")
	if err != nil {
		return nil, err
	}
	// Fields after the command's name, which may hold anything: field n
	// of the line (numbered from 1 in proc(5)) is field n-3 after it:
	// nice (19), rt_priority (40), policy (41).
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 39 {
		return nil, fmt.Errorf("%s/stat: %d fields", dir, len(f)+2)
	}
	c = append(c, "nice "+f[16], "rt_priority "+f[37], "policy "+f[38])
	// The I/O priority (ionice) is in no /proc file.
	prio, _, errno := syscall.Syscall(syscall.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(pid), 0)
	if errno != 0 {
		return nil, fmt.Errorf("ioprio_get %d: %w", pid, errno)
	}
	c = append(c, fmt.Sprintf("ioprio %d", prio))
	return c, nil
}

// readProc reads a /proc file with open, read and close alone (see
// smallfile), which is what each call pays for.
func readProc(path string) ([]byte, error) { return smallfile.Read(path, 2048, 64<<10) }

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
