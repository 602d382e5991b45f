package installer

import (
	"fmt"
	"os"
	"syscall"
)

// lockInstalls serializes installs and uninstalls of one home: each one
// reads the install record, edits the user's files and writes the record
// again, so two at once would each record the other's edits as the
// user's own, and the uninstall would no longer give the files back.
//
// The lock is an flock on the home folder itself: it creates no file
// (an uninstall leaves the home as it found it), and the kernel drops it
// when its holder dies, so an install killed halfway never leaves it
// taken. waiting is called once when another install holds it.
func lockInstalls(home string, waiting func()) (unlock func(), err error) {
	f, err := os.Open(home)
	if err != nil {
		return nil, fmt.Errorf("lock the install: %w", err)
	}
	err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		waiting()
		err = flock(f, syscall.LOCK_EX)
	}
	if err == syscall.ENOLCK || err == syscall.EOPNOTSUPP {
		// A file system without locks (some network homes): one
		// install at a time is then the user's to see to, as before.
		_ = f.Close() // Nothing locked.
		return func() {}, nil
	}
	if err != nil {
		_ = f.Close() // Nothing locked.
		return nil, fmt.Errorf("lock the install (%s): %w", home, err)
	}
	return func() { _ = f.Close() }, nil // Closing releases the lock.
}

func flock(f *os.File, how int) error {
	for {
		if err := syscall.Flock(int(f.Fd()), how); err != syscall.EINTR {
			return err
		}
	}
}
