package supervisor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Interactive tasks: the command's stdin is its stdout terminal, and what
// Send writes into the task's .input FIFO, the supervisor types into that
// terminal, as a person at the keyboard would (the terminal echoes it
// into the log, and turns ctrl-c into SIGINT).

var (
	// ErrNotInteractive reports Send to a task started without a terminal
	// on stdin.
	ErrNotInteractive = errors.New("not interactive: it was started without interactive=true, so its stdin is /dev/null")
	// ErrNoReader reports Send to a task whose supervisor is not reading
	// its input (gone, or the task is ending).
	ErrNoReader = errors.New("nobody reads its input: its supervisor is gone")
	// ErrNotReading reports Send to a task whose program does not read
	// its input: what was typed before fills the terminal and the FIFO.
	ErrNotReading = errors.New("the task is not reading its input")
)

// MaxSend bounds one Send: the FIFO takes PIPE_BUF bytes atomically, so
// two senders never interleave.
const MaxSend = 4096

// makeInput creates the input FIFO in a task folder being prepared.
func makeInput(dir string) error {
	if err := syscall.Mkfifo(filepath.Join(dir, fileInput), 0o600); err != nil {
		return fmt.Errorf("create input fifo: %w", err)
	}
	return nil
}

// feedInput copies what arrives in the task's FIFO into the terminal
// master until the returned stop is called. The FIFO is opened read-write,
// so that it never reports end of file between two senders.
func feedInput(dir string, master io.Writer) (stop func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, fileInput), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open input fifo: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(master, f) // Ends when stop closes f.
	}()
	return func() {
		_ = f.Close() // Read side only: nothing is lost that was not sent.
		<-done
	}, nil
}

// LastSent is when Send last typed into t's terminal: the modification
// time of its input FIFO, which a write sets (and its creation, at the
// task's start); zero when t has none.
func LastSent(t *Task) time.Time {
	fi, err := os.Stat(filepath.Join(t.Dir, fileInput))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// Send types data into a running interactive task's terminal.
func Send(t *Task, data []byte) error {
	if !t.Interactive {
		return fmt.Errorf("%s: %w", t.Name(), ErrNotInteractive)
	}
	if t.Status != StatusRunning {
		return fmt.Errorf("%s: %w (%s)", t.Name(), ErrNotRunning, t.Status)
	}
	if len(data) > MaxSend {
		return fmt.Errorf("send to %s: %d bytes, at most %d at once", t.Name(), len(data), MaxSend)
	}
	path := filepath.Join(t.Dir, fileInput)
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		return fmt.Errorf("send to %s: %s is not the task's input fifo", t.Name(), path)
	}
	// System calls, not os.File: a non-blocking FIFO in an os.File is
	// handed to the poller, whose Write waits for room, and a task that
	// never reads its input would hold bg_send forever.
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("%s: %w", t.Name(), ErrNoReader)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", t.Name(), err)
	}
	defer func() { _ = syscall.Close(fd) }() // Nothing buffered on our side.
	for {
		// At most PIPE_BUF bytes: written whole, or not at all.
		_, err = syscall.Write(fd, data)
		if err != syscall.EINTR {
			break
		}
	}
	if errors.Is(err, syscall.EAGAIN) {
		pending, _ := unix.IoctlGetInt(fd, ioctlPending) // 0 when unknown: the message stays true.
		return fmt.Errorf("%s: %w: %d bytes typed earlier are still pending; nothing was typed", t.ID, ErrNotReading, pending)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", t.ID, err)
	}
	return nil
}

// Literal returns the bytes that type text into t's terminal literally:
// a control character in it (a raw ^C) reaches the program as that byte
// instead of acting (SIGINT). In canonical mode with literal-next on
// (ICANON and IEXTEN), each one is quoted with the terminal's literal-next
// character (^V); otherwise the bytes go as they are, and a character the
// terminal acts on and cannot quote is an error: a signal character (with
// ISIG) or, in canonical mode without IEXTEN, a line-editing one (erase,
// kill, end of file). Keys that act go through bg_send's key.
func Literal(t *Task, text string) ([]byte, error) {
	if !strings.ContainsFunc(text, isControl) {
		return []byte(text), nil
	}
	return literal(t.ID, termiosOf(t), text)
}

// literal is Literal for a terminal in the modes tio (nil: unknown, taken
// as the default canonical mode).
func literal(id string, tio *unix.Termios, text string) ([]byte, error) {
	canonical := tio == nil || tio.Lflag&unix.ICANON != 0 && tio.Lflag&unix.IEXTEN != 0
	if canonical {
		lnext := byte(0x16) // ^V, the default
		if tio != nil && tio.Cc[unix.VLNEXT] != 0 {
			lnext = tio.Cc[unix.VLNEXT]
		}
		var b []byte
		for i := 0; i < len(text); i++ {
			if isControl(rune(text[i])) {
				b = append(b, lnext)
			}
			b = append(b, text[i])
		}
		return b, nil
	}
	acting := func(on bool, what string, chars ...int) error {
		if !on {
			return nil
		}
		for _, c := range chars {
			if ch := tio.Cc[c]; ch != 0 && strings.IndexByte(text, ch) >= 0 {
				return fmt.Errorf("%s: text holds %q, which its terminal %s and cannot type literally now: press it with key, or leave it out", id, string(ch), what)
			}
		}
		return nil
	}
	if err := acting(tio.Lflag&unix.ISIG != 0, "turns into a signal", unix.VINTR, unix.VQUIT, unix.VSUSP); err != nil {
		return nil, err
	}
	if err := acting(tio.Lflag&unix.ICANON != 0, "takes for line editing", unix.VEOF, unix.VERASE, unix.VKILL); err != nil {
		return nil, err
	}
	return []byte(text), nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// termiosOf reads the modes of t's terminal through its command's stdin
// (the terminal's slave side); nil when that cannot be read.
func termiosOf(t *Task) *unix.Termios {
	if t.Root.PID <= 0 {
		return nil
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", t.Root.PID), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer func() { _ = unix.Close(fd) }() // Only read.
	tio, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil
	}
	return tio
}
