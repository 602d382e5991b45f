//go:build unix && !linux

package supervisor

// closeInheritedOnExec marks every descriptor above stderr close-on-exec
// (see fds_linux.go). Without /proc, it tries the usual range.
func closeInheritedOnExec() { closeOnExecUpTo(1024) }
