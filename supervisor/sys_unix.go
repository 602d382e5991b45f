//go:build unix

package supervisor

import (
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
)

// detached puts the supervisor in a session of its own: no controlling
// terminal, so closing the agent's terminal sends it no SIGHUP, and its
// group is not the caller's.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// closeInheritedUpTo is closeInherited for descriptors 3 to n-1, for
// systems where the open ones cannot be listed.
func closeInheritedUpTo(n int, keep ...int) {
	for fd := 3; fd < n; fd++ {
		closeIfInherited(fd, keep...)
	}
}

// closeIfInherited closes fd when it lacks close-on-exec (so it came from
// the caller), unless it is in keep, which is made close-on-exec instead.
func closeIfInherited(fd int, keep ...int) {
	if slices.Contains(keep, fd) {
		syscall.CloseOnExec(fd)
		return
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err == nil && flags&unix.FD_CLOEXEC == 0 {
		_ = unix.Close(fd) // The caller's, not ours: nothing to flush.
	}
}

// diskFull reports whether the file system holding dir has (next to) no
// space left for us: less than a few blocks.
func diskFull(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return uint64(st.Bavail)*uint64(st.Bsize) < 64<<10
}

// metaLimit bounds a metadata file read: the longest, command, is a
// command line.
const metaLimit = 1 << 20

// readMeta reads one of a task's metadata files (see smallfile: a task's
// status takes a dozen such files). Symlinks are not followed. Errors are
// the system's (errors.Is(err, fs.ErrNotExist) for a missing file).
func readMeta(path string) ([]byte, error) { return smallfile.Read(path, 128, metaLimit) }

// writeMeta creates (or truncates) path with data, with system calls
// only, for the same reason as readMeta: bg_run writes ten such files
// while the agent waits.
func writeMeta(path string, data []byte, perm uint32) error {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	for len(data) > 0 {
		n, err := syscall.Write(fd, data)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			_ = syscall.Close(fd) // The write error is what matters.
			return &fs.PathError{Op: "write", Path: path, Err: err}
		}
		data = data[n:]
	}
	if err := syscall.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: path, Err: err}
	}
	return nil
}

// readSmall reads a short one-value file with three system calls (open,
// read, close): os.ReadFile also stats the file and registers it with the
// poller, which doubles the cost of listing a thousand tasks. "" when the
// file is missing or unreadable.
func readSmall(path string) string {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return ""
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return ""
	}
	return strings.TrimSpace(string(buf[:n]))
}

// readMetaOnce reads path with one read into buf: the reaper reads a
// time this way on every shell start. full says the file may hold more
// than buf (the read filled it); a shorter read of a regular file ends
// it.
func readMetaOnce(path string, buf []byte) (n int, full bool, err error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	for {
		n, err = syscall.Read(fd, buf)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, false, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return n, n == len(buf), nil
}

// readSized reads a file whose size is known before it is read (an
// index of a thousand lines) into one buffer of that size: readMeta's
// growing buffer copied and threw away twice the file. Symlinks are not
// followed; a file that grows meanwhile is read up to its size then.
func readSized(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size < 0 || st.Size > 64<<20 {
		return nil, &fs.PathError{Op: "read", Path: path, Err: syscall.EFBIG}
	}
	buf := make([]byte, st.Size)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}
