package capture

import (
	"strings"
	"testing"
)

// One over-long line and then many long ones: no read answers more than
// MaxAnswerBytes per stream (plus the one line that crosses it, itself
// cut at 1 MiB), raw since-reads still deliver every line once across
// pages, and a tail read says what it left out.
func TestAnswersAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 64 << 20, Backups: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	huge := strings.Repeat("h", 3<<20)
	long := make([]string, 200)
	for i := range long {
		long[i] = strings.Repeat(string(rune('a'+i%26)), 50<<10)
	}
	writeLines(t, w, []string{"start"})
	if first := sinceRead(t, dir, ""); len(first.Lines) != 1 {
		t.Fatalf("first read: %q", first.Lines)
	}
	writeLines(t, w, append([]string{huge}, long...))

	size := func(lines []string) int {
		n := 0
		for _, l := range lines {
			n += len(l) + 1
		}
		return n
	}
	bound := MaxAnswerBytes + maxRawLine + 200

	// Raw since-reads page through everything, each page bounded.
	var got []string
	for page := 0; ; page++ {
		res, err := Read(dir, "stdout", ReadOptions{Since: true, Clean: Options{Raw: true, MaxLines: 5000}})
		if err != nil {
			t.Fatal(err)
		}
		if n := size(res.Lines); n > bound {
			t.Fatalf("page %d: %d bytes, bound %d", page, n, bound)
		}
		got = append(got, res.Lines...)
		if res.Remaining == 0 {
			break
		}
		if page > 100 {
			t.Fatal("pages never end")
		}
	}
	if len(got) != 201 || !strings.HasSuffix(got[0], TruncatedMarker) || got[1] != long[0] || got[200] != long[199] {
		t.Fatalf("pages gave %d lines (want 201: the cut huge line, then every long one): %.40q %.40q", len(got), got[0][len(got[0])-30:], got[1])
	}

	// A raw read of the whole log (since=false) and a tail read keep the newest lines that fit and marks the rest.
	for _, o := range []ReadOptions{{Clean: Options{Raw: true, MaxLines: 5000}}, {Tail: 5000, Clean: Options{Raw: true, MaxLines: 5000}}} {
		res, err := Read(dir, "stdout", o)
		if err != nil {
			t.Fatal(err)
		}
		if n := size(res.Lines); n > bound {
			t.Fatalf("%+v: %d bytes, bound %d", o, n, bound)
		}
		if !strings.Contains(res.Lines[0], "earlier lines omitted") || res.Lines[len(res.Lines)-1] != long[199] {
			t.Fatalf("%+v: first %.80q, last line is not the newest", o, res.Lines[0])
		}
	}

	// A digest, whose lines skip the pipeline's tail, is bounded too.
	res, err := Read(dir, "stdout", ReadOptions{Clean: Options{Digest: true, MaxLines: 5000, MaxLineLen: 65536}})
	if err != nil {
		t.Fatal(err)
	}
	if n := size(res.Lines); n > bound {
		t.Fatalf("digest: %d bytes, bound %d", n, bound)
	}
}

// What a tail holds while it reads is bounded like its answer: 2,000
// lines of 50 KB (100 MB) under max_lines=5000 must not be held whole to
// answer 1 MiB of them. The buffers the ring keeps, used or kept for
// reuse, are what it costs.
func TestTailHoldsWhatItCanAnswer(t *testing.T) {
	t.Parallel()
	for _, raw := range []bool{true, false} {
		p, err := NewPipeline(Options{Raw: raw, MaxLines: 5000, MaxLineLen: 65536})
		if err != nil {
			t.Fatal(err)
		}
		line := []byte(strings.Repeat("b", 50<<10) + "\n")
		for i := range 2000 {
			line[0] = byte('a' + i%26) // not similar lines: nothing collapses
			line[1] = byte('a' + i/26%26)
			line[2] = byte('a' + i/676%26)
			_, _ = p.Write(line)
		}
		held := 0
		for _, b := range p.tail.bufs {
			held += cap(b)
		}
		if held > 2*MaxAnswerBytes {
			t.Errorf("raw=%v: the tail holds %d bytes to answer at most %d", raw, held, MaxAnswerBytes)
		}
		lines := p.Close()
		if !strings.HasPrefix(lines[0], "[... ") || !strings.Contains(lines[0], "bytes per stream") {
			t.Errorf("raw=%v: first line %.80q, want the marker of the bound in bytes", raw, lines[0])
		}
		if got := len(lines[len(lines)-1]); got != 50<<10 {
			t.Errorf("raw=%v: the newest line has %d bytes", raw, got)
		}
		if p.Stats().LinesOmitted+len(lines)-1 != 2000 {
			t.Errorf("raw=%v: %d omitted + %d shown != 2000", raw, p.Stats().LinesOmitted, len(lines)-1)
		}
	}
}
