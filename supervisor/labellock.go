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
// unlock removes the file and releases the lock, so that lock files do not
// pile up, one per label ever started; a waiter that then gets the lock on
// the removed file sees that it is no longer at its path and opens it
// again. Only a bg_run that crashed while holding it leaves a file behind.
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
	for {
		fd, err := lockFile(path)
		if err != nil {
			return nil, fmt.Errorf("lock label %q: %w", label, err)
		}
		if fd >= 0 {
			return func() {
				_ = os.Remove(path)   // Best effort: a file left behind only costs its name.
				_ = syscall.Close(fd) // Closing releases the lock.
			}, nil
		}
	}
}

// lockFile opens path and takes an exclusive flock on it. It returns -1
// when the file it locked is no longer the one at path (its holder removed
// it on unlock): the caller opens it again.
func lockFile(path string) (int, error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return -1, err
	}
	err = flockEx(fd)
	if err != nil {
		_ = syscall.Close(fd) // Nothing locked.
		return -1, err
	}
	var locked, atPath syscall.Stat_t
	if err := syscall.Fstat(fd, &locked); err != nil {
		_ = syscall.Close(fd) // Releases the lock.
		return -1, err
	}
	err = syscall.Lstat(path, &atPath)
	if err == syscall.ENOENT || err == nil && (locked.Dev != atPath.Dev || locked.Ino != atPath.Ino) {
		_ = syscall.Close(fd) // Removed or replaced meanwhile: try again.
		return -1, nil
	}
	if err != nil {
		_ = syscall.Close(fd) // Releases the lock.
		return -1, err
	}
	return fd, nil
}

// LockFolder takes an exclusive lock on the folder dir, which it creates
// if need be: for a read, change and save of small files in it that
// parallel calls must not interleave (a reader's notice memory). The lock
// is an flock on the folder itself, so it leaves no file behind; the
// kernel drops it when its holder dies.
func LockFolder(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	err = flockEx(fd)
	if err != nil {
		_ = syscall.Close(fd) // Nothing locked.
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { _ = syscall.Close(fd) }, nil // Closing releases the lock.
}

// flockEx takes an exclusive flock on fd, waiting for it, through
// interruptions by signals.
func flockEx(fd int) error {
	for {
		if err := syscall.Flock(fd, syscall.LOCK_EX); err != syscall.EINTR {
			return err
		}
	}
}
