package toolbox

import (
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitDrained waits until the reader of w has taken every byte written,
// at most max, then a moment more for it to handle them. w may be a pipe
// or, as Node.js (Amp) makes a child's stdout, a Unix socket; for anything
// else it returns at once.
func waitDrained(w io.Writer, max time.Duration) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil {
		return
	}
	var req uint
	switch {
	case fi.Mode()&os.ModeNamedPipe != 0:
		req = unix.TIOCINQ // FIONREAD: bytes the reader has not read
	case fi.Mode()&os.ModeSocket != 0:
		req = unix.SIOCOUTQ // bytes sent that the peer has not read
	default:
		return
	}
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		n, err := unix.IoctlGetInt(int(f.Fd()), req)
		if err != nil {
			return
		}
		if n == 0 {
			time.Sleep(50 * time.Millisecond) // The reader has the bytes; let it parse them.
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
