//go:build linux

package supervisor

import "golang.org/x/sys/unix"

const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
	ioctlPending    = unix.TIOCINQ // FIONREAD: bytes waiting in a pipe
)
