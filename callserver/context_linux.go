package callserver

import (
	"bytes"
	"fmt"
	"os"
	"strings"
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
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts", "user", "cgroup"} {
		l, err := os.Readlink(dir + "/ns/" + ns)
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
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil {
			return nil, err
		}
		c = append(c, f+" "+string(b))
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, _, _ := strings.Cut(line, ":")
		switch name {
		case "Umask", "Gid", "Groups", "NoNewPrivs", "Seccomp", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			c = append(c, line)
		}
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, err
	}
	// Fields after the command's name, which may hold anything: the
	// 19th field of the line (nice) is the 17th after it.
	if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 16 {
		c = append(c, "nice "+f[16])
	}
	return c, nil
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
