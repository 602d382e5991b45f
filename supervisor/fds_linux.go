package supervisor

import (
	"os"
	"strconv"
	"syscall"
)

// closeInheritedOnExec marks every descriptor above stderr close-on-exec:
// the supervisor inherits the readiness pipe and whatever its caller left
// open without close-on-exec, and the command must get exactly stdin,
// stdout and stderr (a stray pipe end would keep a reader waiting, or
// kill the command with SIGPIPE when written to). The supervisor keeps
// using them; only the exec drops them.
func closeInheritedOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		closeOnExecUpTo(1024)
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
