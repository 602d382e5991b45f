package supervisor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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

// Send types data into a running interactive task's terminal.
func Send(t *Task, data []byte) error {
	if !t.Interactive {
		return fmt.Errorf("%s: %w", t.ID, ErrNotInteractive)
	}
	if t.Status != StatusRunning {
		return fmt.Errorf("%s: %w (%s)", t.ID, ErrNotRunning, t.Status)
	}
	if len(data) > MaxSend {
		return fmt.Errorf("send to %s: %d bytes, at most %d at once", t.ID, len(data), MaxSend)
	}
	path := filepath.Join(t.Dir, fileInput)
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		return fmt.Errorf("send to %s: %s is not the task's input fifo", t.ID, path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("%s: %w", t.ID, ErrNoReader)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", t.ID, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", t.ID, err)
	}
	return nil
}
