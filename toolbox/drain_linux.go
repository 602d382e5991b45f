package toolbox

import (
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitDrained waits until the pipe behind w holds no unread bytes, at most
// max, then a moment more for the reader to handle what it read. It
// returns at once when w is not a pipe.
func waitDrained(w io.Writer, max time.Duration) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ) // FIONREAD: unread bytes
		if err != nil {
			return
		}
		if n == 0 {
			time.Sleep(50 * time.Millisecond) // The reader got the bytes; let it parse them.
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
