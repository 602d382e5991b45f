//go:build unix

package smallfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := bytes.Repeat([]byte("0123456789"), 1000)
	for _, tc := range []struct {
		name        string
		content     []byte
		hint, limit int
		want        []byte
	}{
		{"empty", nil, 128, 1 << 20, []byte{}},
		{"a value", []byte("running\n"), 128, 1 << 20, []byte("running\n")},
		{"grows past its hint", long, 16, 1 << 20, long},
		{"cut at the limit", long, 128, 4000, long[:4000]},
		{"a hint above the limit", long, 1 << 20, 100, long[:100]},
	} {
		got, err := Read(write(tc.name, tc.content), tc.hint, tc.limit)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %d bytes (%v), want %d", tc.name, len(got), err, len(tc.want))
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 128, 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(write("target", []byte("x")), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(link, 128, 1<<20); err == nil {
		t.Error("a symlink was followed")
	}
	if b, err := Read("/proc/self/status", 2048, 64<<10); err == nil && !bytes.Contains(b, []byte("Umask:")) {
		t.Errorf("/proc/self/status reads %q", b)
	}
}

func TestReadIntoAndReadSized(t *testing.T) {
	dir := t.TempDir()
	long := bytes.Repeat([]byte("0123456789"), 1000)
	for _, tc := range []struct {
		name    string
		content []byte
	}{{"empty", nil}, {"a time", []byte("2026-12-07T19:02:33.000Z\n")}, {"long", long}} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.content, 0o600); err != nil {
			t.Fatal(err)
		}
		var buf [64]byte
		n, full, err := ReadInto(p, buf[:])
		want := tc.content[:min(len(tc.content), len(buf))]
		if err != nil || !bytes.Equal(buf[:n], want) || full != (len(tc.content) >= len(buf)) {
			t.Errorf("ReadInto %s: %q full=%v (%v), want %q full=%v", tc.name, buf[:n], full, err, want, len(tc.content) >= len(buf))
		}
		got, err := ReadSized(p, 1<<20)
		if err != nil || !bytes.Equal(got, tc.content) {
			t.Errorf("ReadSized %s: %d bytes (%v), want %d", tc.name, len(got), err, len(tc.content))
		}
	}
	if _, err := ReadSized(filepath.Join(dir, "long"), 100); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("ReadSized over its limit: %v, want EFBIG", err)
	}
	for _, f := range []func(string) error{
		func(p string) error { _, _, err := ReadInto(p, make([]byte, 8)); return err },
		func(p string) error { _, err := ReadSized(p, 1<<20); return err },
	} {
		if err := f(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
		}
		link := filepath.Join(dir, "link")
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(dir, "long"), link); err != nil {
			t.Fatal(err)
		}
		if err := f(link); err == nil {
			t.Error("a symlink was followed")
		}
	}
}

// A FIFO where a file should be (planted, or left by a mistake) never
// holds a reader up: each reader returns at once, with nothing read.
func TestAFIFOHoldsNoReaderUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan string, 3)
	go func() {
		b, err := Read(path, 64, 1024)
		done <- "Read: " + string(b) + errText(err)
		n, _, err := ReadInto(path, make([]byte, 64))
		done <- "ReadInto: " + string(rune('0'+n)) + errText(err)
		b, err = ReadSized(path, 1024)
		done <- "ReadSized: " + string(b) + errText(err)
	}()
	for range 3 {
		select {
		case got := <-done:
			t.Log(got)
		case <-time.After(30 * time.Second):
			t.Fatal("a reader of a FIFO without a writer has not returned in 30 s")
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
