//go:build unix

package supervisor

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// winsize is wide enough that ordinary log lines do not wrap.
var winsize = pty.Winsize{Rows: 50, Cols: 200}

// openPTY returns a PTY pair set up for capture: the terminal side does no
// output post-processing (so "\n" stays "\n", not "\r\n"), and the master
// is non-blocking so that reads honour deadlines (pty.Open's master is left
// blocking, where a read cannot be interrupted).
func openPTY() (master, tty *os.File, err error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	defer func() {
		if err != nil {
			_ = m.Close()   // Best effort.
			_ = tty.Close() // Best effort.
		}
	}()
	if err = pty.Setsize(tty, &winsize); err != nil {
		return nil, nil, fmt.Errorf("set pty size: %w", err)
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		return nil, nil, fmt.Errorf("read pty modes: %w", err)
	}
	tio.Oflag &^= unix.OPOST
	if err = unix.IoctlSetTermios(int(tty.Fd()), ioctlSetTermios, tio); err != nil {
		return nil, nil, fmt.Errorf("set pty modes: %w", err)
	}
	// Close-on-exec, or the command would inherit the master.
	fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("dup pty master: %w", err)
	}
	if err = unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd) // Best effort.
		return nil, nil, fmt.Errorf("set pty master non-blocking: %w", err)
	}
	_ = m.Close() // The dup replaces it.
	return os.NewFile(uintptr(fd), m.Name()), tty, nil
}
