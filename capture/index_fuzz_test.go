package capture

import (
	"os"
	"path/filepath"
	"testing"
)

// The index and cursor files can be edited or damaged by hand: reading
// them never panics, and a stream with a damaged index still reads.
func FuzzIndexAndCursor(f *testing.F) {
	f.Add("stdout-2026-11-23T10-00-00.000 12 4096\n", "12 4096\n")
	f.Add("x 1\n", "-1\n")
	f.Add("stdout-2026-11-23T10-00-00.000 99999999999999999999 1\n", "7")
	f.Add("", "3 99999999")
	f.Add("stdout-2026-11-23T10-00-00.000 12 4096 cut x40\nstdout-2026-11-23T10-00-01.000 3 99 x1\n", "12 4096\n")
	f.Fuzz(func(t *testing.T, index, cursor string) {
		dir := t.TempDir()
		write := func(name, s string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("stdout", "one\ntwo\nthree\n")
		write(".stdout.segments", index)
		write(".cursor_stdout", cursor)
		_, _ = ReadIndex(dir, "stdout")
		res, err := Read(dir, "stdout", ReadOptions{Since: true, Clean: Options{Raw: true}})
		if err != nil {
			if _, ierr := ReadIndex(dir, "stdout"); ierr == nil {
				t.Fatalf("read failed with a valid index: %v", err)
			}
			return
		}
		if res.Cursor < 0 || res.TotalLines < 0 || len(res.Lines) > DefaultMaxLines {
			t.Fatalf("result %+v", res)
		}
	})
}
