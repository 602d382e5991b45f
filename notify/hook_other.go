//go:build !unix

package notify

import (
	"os"
	"os/exec"
)

// newProcessGroup does nothing: without Unix process groups only the hook
// itself is killed, not what it started.
func newProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process pid.
func killProcessGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
