//go:build !linux

package toolbox

import (
	"io"
	"os"
	"time"
)

// waitDrained gives the reader of a pipe 100 ms to read what was written,
// where the unread count of a pipe cannot be asked for (see drain_linux.go).
func waitDrained(w io.Writer, max time.Duration) {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0 {
			time.Sleep(min(max, 100*time.Millisecond))
		}
	}
}
