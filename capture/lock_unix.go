//go:build unix

package capture

import (
	"fmt"
	"os"
	"syscall"
)

// lockCursors takes an exclusive lock on the task folder dir for a since
// read: loading a cursor, reading and saving it again must not interleave
// with another read of the same folder, or two parallel calls would both
// return the same new lines. The lock is on the folder itself, so it
// creates no file that a cleanup racing the read would trip over.
func lockCursors(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock cursors: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close() // Read only.
		return nil, fmt.Errorf("lock cursors: %w", err)
	}
	return func() { _ = f.Close() }, nil // Closing releases the lock.
}
