package smallfile

import (
	"io/fs"
	"syscall"
)

// ReadIn is Read of name in the folder open as dir (openat(2)): a
// caller reading several files of one folder (the /proc/<pid> of
// another process) resolves the folder once, not once per file. Errors
// name name alone.
func ReadIn(dir int, name string, hint, limit int) ([]byte, error) {
	fd, err := syscall.Openat(dir, name, openFlags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return readAll(fd, name, hint, limit)
}
