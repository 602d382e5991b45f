//go:build unix

package supervisor

import "syscall"

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
