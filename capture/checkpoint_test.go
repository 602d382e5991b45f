package capture

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A reader counts lines from the writer's checkpoint of the current file,
// and only when the checkpoint is of that file: a stale, torn or
// oversized one is ignored and the whole file counted.
func TestCheckpointCounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 4 * CheckpointBytes, Backups: -1})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 99) + "\n"
	write := func(n int) {
		t.Helper()
		for range n {
			if _, err := w.Write([]byte(line)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(25000) // 2.5 MB: at least one checkpoint, then more lines.
	c, ok := readCheckpoint(dir, "stdout")
	if !ok || c.segments != 0 || c.bytes < CheckpointBytes || c.lines != c.bytes/100 {
		t.Fatalf("checkpoint %+v, %v", c, ok)
	}
	total := func() int64 {
		t.Helper()
		r, err := Read(dir, "stdout", ReadOptions{Tail: 1, Clean: Options{Raw: true}})
		if err != nil {
			t.Fatal(err)
		}
		return r.TotalLines
	}
	if got := total(); got != 25000 {
		t.Fatalf("total lines %d, want 25000", got)
	}
	// The reader trusts a checkpoint that matches: a wrong count in one
	// shows up (which is how this test knows it is used)...
	if err := writeCheckpoint(dir, "stdout", checkpoint{segments: 0, bytes: c.bytes, lines: c.lines + 7}); err != nil {
		t.Fatal(err)
	}
	if got := total(); got != 25007 {
		t.Fatalf("with the checkpoint off by 7: %d lines, want 25007 (checkpoint not used?)", got)
	}
	// ...and ignores one of another generation, past the end, or torn.
	for _, bad := range []string{
		fmt.Sprintf("1 %d %d\n", c.bytes, c.lines+7),
		fmt.Sprintf("0 %d %d\n", 10*c.bytes, c.lines+7),
		"0 12",
		"garbage",
	} {
		if err := os.WriteFile(checkpointPath(dir, "stdout"), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := total(); got != 25000 {
			t.Errorf("checkpoint %q: %d lines, want 25000", bad, got)
		}
	}
	// After rotations the checkpoint is of the new current file.
	write(60000) // 6 MB more: at least one rotation.
	if got := total(); got != 85000 {
		t.Fatalf("after rotation: %d lines, want 85000", got)
	}
	if c, ok := readCheckpoint(dir, "stdout"); !ok || c.segments == 0 {
		t.Fatalf("checkpoint after rotation %+v, %v", c, ok)
	}
	_ = w.Close() // Best effort.
}
