//go:build unix

package supervisor

import "syscall"

// detached puts the supervisor in a session of its own: no controlling
// terminal, so closing the agent's terminal sends it no SIGHUP, and its
// group is not the caller's.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
