//go:build unix

package remote

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive lock on the folder dir (a dist folder being
// filled on demand), so that parallel first uses of a platform build it
// once. The lock is on the folder itself: it creates no file.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close() // Read only.
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { _ = f.Close() }, nil // Closing releases the lock.
}
