//go:build unix && !linux

package supervisor

import "syscall"

// closeInheritedOnExec marks every descriptor above stderr close-on-exec
// (see fds_linux.go). Without /proc, it tries the usual range.
func closeInheritedOnExec() {
	for fd := 3; fd < 1024; fd++ {
		syscall.CloseOnExec(fd)
	}
}
