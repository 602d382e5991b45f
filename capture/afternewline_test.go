package capture

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// afterNewline finds the same offset for every line whichever end it
// scans from, across chunk boundaries, with and without a final newline.
func TestAfterNewlineBothWays(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	for _, tail := range []string{"", "no newline at the end"} {
		var content []byte
		for i := 0; len(content) < 300<<10; i++ {
			content = append(content, bytes.Repeat([]byte{'a' + byte(i%26)}, r.IntN(300))...)
			content = append(content, '\n')
		}
		content = append(content, tail...)
		path := filepath.Join(t.TempDir(), "stdout")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		p := part{name: "stdout", bytes: int64(len(content)), lines: int64(bytes.Count(content, []byte{'\n'})), f: f}
		var want []int64 // want[k-1]: just after the k-th newline
		for i, c := range content {
			if c == '\n' {
				want = append(want, int64(i)+1)
			}
		}
		s := &Stream{}
		for k := int64(1); k <= p.lines; k++ {
			got, err := s.afterNewline(p, k)
			if err != nil || got != want[k-1] {
				t.Fatalf("line %d of %d: offset %d (%v), want %d", k, p.lines, got, err, want[k-1])
			}
		}
		_ = f.Close() // Read only.
	}
}
