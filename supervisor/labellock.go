package supervisor

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"syscall"
)

// LockLabel serializes the starts of one label in one folder: bg_run holds
// it from its duplicate check until the new task is in the store (and,
// with replace, through the stop of the old one), so of parallel starts of
// the same label exactly one runs. The lock is an flock on a small file
// per (label, cwd) in the state folder, named by a hash: the kernel drops
// it when its holder dies, so a crashed bg_run never leaves it taken.
// unlock releases it.
func (s Store) LockLabel(label, cwd string) (unlock func(), err error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock label %q: create state folder: %w", label, err)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(cwd + "\x00" + label)) // A hash never fails to write.
	path := filepath.Join(s.Dir, fmt.Sprintf(".lock-%016x", h.Sum64()))
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock label %q: %w", label, err)
	}
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = syscall.Close(fd) // Nothing locked.
		return nil, fmt.Errorf("lock label %q: %w", label, err)
	}
	return func() { _ = syscall.Close(fd) }, nil // Closing releases the lock.
}
