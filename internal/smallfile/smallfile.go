//go:build unix

// Package smallfile reads small files (a task's one-value records, /proc
// entries) with three kinds of system call alone: open, read until end of
// file, close. os.ReadFile also stats the file and offers it to the
// runtime's poller and takes that back, which triples the calls; the hot
// paths (bg_status over a thousand tasks, the call server's check of each
// caller) read dozens of such files per call.
//
// It does not follow a final symlink, never waits for a writer (a FIFO
// found where a file should be reads as empty, or fails, rather than
// hold up every shell start), and reads at most a given number of bytes:
// it is not for files of unknown size. Three readers share this:
// Read (a growing buffer, up to a limit; ReadIn, on Linux, in an open
// folder), ReadInto (one read into the caller's buffer: a time read on
// every shell start) and ReadSized (one buffer of the file's size, for a
// file of a thousand lines).
package smallfile

import (
	"io/fs"
	"syscall"
)

// openFlags open a file to read: not through a final symlink, and
// without waiting for a FIFO's writer (for a regular file O_NONBLOCK
// changes nothing).
const openFlags = syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// Read returns up to limit bytes of path, growing from a buffer of hint
// bytes. Errors are the system's, as *fs.PathError
// (errors.Is(err, fs.ErrNotExist) for a missing file).
func Read(path string, hint, limit int) ([]byte, error) {
	fd, err := syscall.Open(path, openFlags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return readAll(fd, path, hint, limit)
}

// readAll reads fd, the open file path, to its end or limit, and closes
// it.
func readAll(fd int, path string, hint, limit int) ([]byte, error) {
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

// ReadInto reads path with one read into buf and returns how many bytes
// it read. full says the file may hold more than buf (the read filled
// it); a shorter read of a regular file ends it.
func ReadInto(path string, buf []byte) (n int, full bool, err error) {
	fd, err := syscall.Open(path, openFlags, 0)
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

// ReadSized reads a file whose size is known before it is read into one
// buffer of that size: Read's growing buffer copies and throws away
// twice the file. A file larger than limit is refused (EFBIG); one that
// grows meanwhile is read up to the size it had.
func ReadSized(path string, limit int64) ([]byte, error) {
	fd, err := syscall.Open(path, openFlags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer func() { _ = syscall.Close(fd) }() // Read only.
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size < 0 || st.Size > limit {
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
