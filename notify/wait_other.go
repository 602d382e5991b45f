//go:build !linux

package notify

import "os/exec"

// watchExit reports on exited when cmd's process has exited. Without
// waitid(WNOWAIT) the exit is only seen by reaping the process, so killing
// its group afterwards could, in theory, hit a new group that reused the
// PID in between; Linux avoids that (wait_linux.go).
func watchExit(cmd *exec.Cmd) (exited <-chan struct{}, wait func() error) {
	ch := make(chan struct{})
	var err error
	go func() {
		defer close(ch)
		err = cmd.Wait()
	}()
	return ch, func() error {
		<-ch
		return err
	}
}
