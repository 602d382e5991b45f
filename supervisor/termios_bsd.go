//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package supervisor

import "golang.org/x/sys/unix"

const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
	ioctlPending    = 0x4004667f // FIONREAD (_IOR('f', 127, int)): bytes waiting in a pipe
)
