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
	return uint64(st.Bavail)*uint64(st.Bsize) < 64<<10 || st.Files > 0 && st.Ffree == 0
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
	// O_NONBLOCK: a FIFO in the folder (planted) fails the write at once
	// (ENXIO) rather than hang it until a reader comes.
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
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

// writeInPlace overwrites the file at path with data, in the file itself:
// no new file, so no inode, and no new block for data no longer than
// the one the file has. Not atomic (a reader may see the old bytes and
// the new ones mixed for an instant): the way to record an outcome when
// the disk has no room for writeFiles' new files, and no other.
func writeInPlace(path string, data []byte) error {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	for off := 0; off < len(data); {
		n, err := syscall.Pwrite(fd, data[off:], int64(off))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			_ = syscall.Close(fd) // The write error is what matters.
			return &fs.PathError{Op: "write", Path: path, Err: err}
		}
		off += n
	}
	if err := syscall.Ftruncate(fd, int64(len(data))); err != nil {
		_ = syscall.Close(fd) // The truncate error is what matters.
		return &fs.PathError{Op: "truncate", Path: path, Err: err}
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
	var buf [128]byte
	n, _, err := smallfile.ReadInto(path, buf[:])
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(buf[:n]))
}
