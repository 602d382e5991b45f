//go:build unix

// Package smallfile reads small files (a task's one-value records, /proc
// entries) with three kinds of system call alone: open, read until end of
// file, close. os.ReadFile also stats the file and offers it to the
// runtime's poller and takes that back, which triples the calls; the hot
// paths (bg_status over a thousand tasks, the call server's check of each
// caller) read dozens of such files per call.
//
// It does not follow a final symlink, and reads at most a given number of
// bytes: it is not for files of unknown size.
package smallfile

import (
	"io/fs"
	"syscall"
)

// Read returns up to limit bytes of path, growing from a buffer of hint
// bytes. Errors are the system's, as *fs.PathError
// (errors.Is(err, fs.ErrNotExist) for a missing file).
func Read(path string, hint, limit int) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	buf := make([]byte, 0, min(hint, limit))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):min(cap(buf), limit)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}
