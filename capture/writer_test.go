package capture

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// payload returns n bytes of printable lines of varying length, so segment
// cuts fall mid-line.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n)
	for len(b) < n {
		line := r.IntN(200)
		for i := 0; i < line && len(b) < n-1; i++ {
			b = append(b, byte('!'+r.IntN(94)))
		}
		b = append(b, '\n')
	}
	return b[:n]
}

// onDisk concatenates the segments of stream that are on disk, oldest first.
func onDisk(t *testing.T, dir, stream string) []byte {
	t.Helper()
	names, err := backups(dir, stream)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, n := range append(names, stream) {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestWriterRotationKeepsEveryByteOrCountsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 1 << 20, Backups: 5})
	if err != nil {
		t.Fatal(err)
	}
	data := payload(25<<20+12345, 7)
	// Writes of PTY-read size, as the supervisor makes them.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 4096+len(rest)%3000)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// lumberjack deletes old segments in the background; the snapshot
	// reads the listing and the bytes consistently all the same.
	s, err := OpenStream(dir, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var kept bytes.Buffer
	next, skipped, err := s.CopyFrom(&kept, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if next != int64(len(data)) || !bytes.Equal(kept.Bytes(), data[skipped:]) {
		t.Fatalf("stream ends at %d, %d bytes skipped, %d read: not the end of the %d written", next, skipped, kept.Len(), len(data))
	}
	if st.Bytes != int64(len(data)) || st.Lines != int64(bytes.Count(data, []byte{'\n'})) {
		t.Fatalf("stats %+v, wrote %d bytes, %d lines", st, len(data), bytes.Count(data, []byte{'\n'}))
	}
	// What rotation deleted is exactly what the reader had to skip, and
	// the index counts its lines.
	if st.GoneBytes != skipped {
		t.Fatalf("index says %d bytes gone, the reader skipped %d", st.GoneBytes, skipped)
	}
	if st.GoneLines != int64(bytes.Count(data[:st.GoneBytes], []byte{'\n'})) {
		t.Fatalf("index says %d lines gone, the first %d bytes hold %d", st.GoneLines, st.GoneBytes, bytes.Count(data[:st.GoneBytes], []byte{'\n'}))
	}
	if kept.Len() < 5<<20 {
		t.Fatalf("only %d bytes kept, want at least 5 full segments", kept.Len())
	}
	// 25 rotations, 5 segments kept: the index describes what is kept,
	// and the deleted ones in one line, whatever the number of rotations.
	index, err := ReadIndex(dir, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if len(index) > 5+2 || segmentCount(index) != 25 {
		t.Fatalf("index of %d lines for %d segments, want at most 7 lines for 25", len(index), segmentCount(index))
	}
}

// Rotations far faster than one per millisecond must not overwrite each
// other's backups (lumberjack names them by the millisecond).
func TestWriterManyRotationsWithinAMillisecond(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stderr", WriterOptions{MaxBytes: 64, Backups: -1})
	if err != nil {
		t.Fatal(err)
	}
	data := payload(64*50, 3)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, dir, "stderr"); !bytes.Equal(got, data) {
		t.Fatalf("segments hold %d bytes, wrote %d", len(got), len(data))
	}
	names, _ := backups(dir, "stderr")
	if len(names) != 49 {
		t.Fatalf("%d backups, want 49", len(names))
	}
}

func TestWriterAppendsToExistingStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 100, Backups: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(payload(150, uint64(i))); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
	}
	s, _ := OpenStream(dir, "stdout")
	defer func() { _ = s.Close() }()
	if st := s.Stats(); st.Bytes != 300 {
		t.Fatalf("stats %+v, want 300 bytes", st)
	}
	fi, _ := os.Stat(filepath.Join(dir, "stdout"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v, want 0600", fi.Mode().Perm())
	}
}
