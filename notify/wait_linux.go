package notify

import (
	"errors"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// watchExit reports on exited when cmd's process has exited, without
// reaping it: until wait is called the exited leader stays a zombie, which
// keeps its PID, and so its process group ID, from being reused. That makes
// killing the group after the exit safe (see runHook).
func watchExit(cmd *exec.Cmd) (exited <-chan struct{}, wait func() error) {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, syscall.EINTR) {
				return
			}
		}
	}()
	return ch, cmd.Wait
}
