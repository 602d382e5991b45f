//go:build unix && !linux

package supervisor

// closeInherited closes the descriptors inherited from the caller (see
// fds_linux.go). Without /proc, it tries the usual range.
func closeInherited(keep ...int) { closeInheritedUpTo(1024, keep...) }
