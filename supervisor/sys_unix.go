//go:build unix

package supervisor

import (
	"strings"
	"syscall"
)

// detached puts the supervisor in a session of its own: no controlling
// terminal, so closing the agent's terminal sends it no SIGHUP, and its
// group is not the caller's.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// closeOnExecUpTo marks descriptors 3 to n-1 close-on-exec, for systems
// where the open ones cannot be listed.
func closeOnExecUpTo(n int) {
	for fd := 3; fd < n; fd++ {
		syscall.CloseOnExec(fd)
	}
}

// readSmall reads a short one-value file with three system calls (open,
// read, close): os.ReadFile also stats the file and registers it with the
// poller, which doubles the cost of listing a thousand tasks. "" when the
// file is missing or unreadable.
func readSmall(path string) string {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return ""
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return ""
	}
	return strings.TrimSpace(string(buf[:n]))
}
