package capture

import (
	"os"
	"path/filepath"
	"testing"
)

// benchInput is the corpus concatenated until it is about 50 MB, built in
// the benchmark so nothing large is committed.
func benchInput(b *testing.B) []byte {
	b.Helper()
	logs, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.log"))
	if err != nil || len(logs) == 0 {
		b.Fatalf("list corpus logs: %v", err)
	}
	var corpus []byte
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			b.Fatal(err)
		}
		corpus = append(corpus, data...)
	}
	in := make([]byte, 0, 50<<20+len(corpus))
	for len(in) < 50<<20 {
		in = append(in, corpus...)
	}
	return in
}

// benchClean writes the input in 64 KiB chunks, as a log reader would.
func benchClean(b *testing.B, o Options) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		p, err := NewPipeline(o)
		if err != nil {
			b.Fatal(err)
		}
		for rest := in; len(rest) > 0; {
			n := min(64<<10, len(rest))
			p.Write(rest[:n])
			rest = rest[n:]
		}
		p.Close()
	}
}

func BenchmarkCleanAuto(b *testing.B) { benchClean(b, Options{}) }

func BenchmarkCleanFiltered(b *testing.B) {
	benchClean(b, Options{Filter: "error|warn|fail|exception|panic"})
}

// BenchmarkCleanFilteredRegexp uses a filter with no literal form, so every
// line goes through the regexp engine.
func BenchmarkCleanFilteredRegexp(b *testing.B) {
	benchClean(b, Options{Filter: `\berr(or)?\b|warn\w*`})
}

func BenchmarkCleanDigest(b *testing.B) { benchClean(b, Options{Digest: true, MaxLines: 150}) }
