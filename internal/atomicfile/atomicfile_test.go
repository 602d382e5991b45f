package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWriteReplacesWithMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data string
		perm os.FileMode
	}{{"new", 0o600}, {"binary", 0o755}, {"", 0o644}} {
		if err := WriteFile(path, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != tc.data || fi.Mode().Perm() != tc.perm {
			t.Errorf("after WriteFile(%q, %v): %q, %v", tc.data, tc.perm, got, fi.Mode().Perm())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("folder holds %d entries, want only the file", len(ents))
	}
}

// failingReader yields some bytes, then an error, as a source on a
// failing disk or a closed pipe does.
type failingReader struct{ done bool }

var errSource = errors.New("source failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, errSource
	}
	r.done = true
	return copy(p, "partial"), nil
}

func TestWriteFailureLeavesTheOldFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(path, &failingReader{}, 0o600)
	if !errors.Is(err, errSource) {
		t.Fatalf("Write = %v, want the source's error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("file holds %q after a failed write, want the old content", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a failed write left %d entries, want only the file", len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

// A reader racing the writes sees one whole version or another, never a
// mix or an empty file.
func TestReaderSeesWholeVersions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	versions := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 32<<10)}
	if err := WriteFile(path, versions[0], 0o600); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := WriteFile(path, versions[i%2], 0o600); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 500 {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(f)
		_ = f.Close() // Read only.
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
			t.Fatalf("read %d bytes that are neither version", len(got))
		}
	}
	stop.Store(true)
	wg.Wait()
}
