package capture

import (
	"io"
	"testing"
)

// The escape parser alone, behind its two users, on the corpus in 64 KiB
// chunks: BenchmarkCleanAuto includes it with everything after it.

func BenchmarkScreen(b *testing.B) {
	in := benchInput(b)[:8<<20]
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		s := newScreen(func([]byte) {})
		for rest := in; len(rest) > 0; {
			n := min(64<<10, len(rest))
			s.write(rest[:n])
			rest = rest[n:]
		}
		s.finish()
	}
}

func BenchmarkEscapeStripper(b *testing.B) {
	in := benchInput(b)[:8<<20]
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		s := NewEscapeStripper(io.Discard)
		for rest := in; len(rest) > 0; {
			n := min(64<<10, len(rest))
			_, _ = s.Write(rest[:n]) // io.Discard does not fail.
			rest = rest[n:]
		}
	}
}
