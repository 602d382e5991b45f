package capture

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCollapse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in, want []string
	}{
		{"five similar lines: the first, the marker, the last", []string{
			"Using flag 1", "Using flag 2", "Using flag 3", "Using flag 4", "Using flag 5",
		}, []string{"Using flag 1", "... 3 similar lines collapsed", "Using flag 5"}},
		{"a run's last line is its latest state", []string{
			"Compiled 1/20 modules", "Compiled 2/20 modules", "Compiled 3/20 modules", "Compiled 4/20 modules", "Compiled 20/20 modules", "done",
		}, []string{"Compiled 1/20 modules", "... 3 similar lines collapsed", "Compiled 20/20 modules", "done"}},
		{"three lines: a marker would save nothing", []string{
			"line 18 of the build output", "line 19 of the build output", "line 20 of the build output",
		}, []string{"line 18 of the build output", "line 19 of the build output", "line 20 of the build output"}},
		{"two lines stay two lines", []string{
			"old line 1", "old line 2",
		}, []string{"old line 1", "old line 2"}},
		{"short lines a marker is longer than", []string{
			"x 1", "x 2", "x 3", "x 4", "x 5",
		}, []string{"x 1", "x 2", "x 3", "x 4", "x 5"}},
		{"durations and timestamps masked", []string{
			"[19:03:40.200] GET / 200 1.2 ms", "[19:03:41.007] GET / 200 13.25 ms", "[19:03:41.107] GET / 200 3.25 ms",
			"[19:03:42.007] GET / 200 1.25 ms", "[19:03:43.007] GET / 200 13.5 ms", "next",
		}, []string{"[19:03:40.200] GET / 200 1.2 ms", "... 3 similar lines collapsed", "[19:03:43.007] GET / 200 13.5 ms", "next"}},
		{"hex ids masked", []string{
			"goroutine at 0xc000123abc", "goroutine at 0xc0001f0000", "goroutine at 0xc0001f0010", "goroutine at 0xc0001f0020",
		}, []string{"goroutine at 0xc000123abc", "... 2 similar lines collapsed", "goroutine at 0xc0001f0020"}},
		{"different messages never collapse", []string{
			"error: file 1 not found", "error: file 2 is locked", "warning: file 3 not found",
		}, []string{"error: file 1 not found", "error: file 2 is locked", "warning: file 3 not found"}},
		{"a repeated block collapses", []string{
			"GET /a 200 1.1 ms", "GET /b 200 2.2 ms", "GET /a 200 3.3 ms", "GET /b 200 4.4 ms", "GET /a 200 5.5 ms", "GET /b 200 6.6 ms", "done",
		}, []string{"GET /a 200 1.1 ms", "GET /b 200 2.2 ms", "... 3 similar lines collapsed", "GET /b 200 6.6 ms", "done"}},
		{"blocks keep lines told apart by plain numbers", []string{
			"=== RUN T/1", "want 19", "=== RUN T/2", "want 28",
		}, []string{"=== RUN T/1", "want 19", "=== RUN T/2", "want 28"}},
		{"a broken block is shown whole", []string{
			"a", "b", "a", "c",
		}, []string{"a", "b", "a", "c"}},
		{"distinct locations never collapse", []string{
			"cmd/inventory/main.go:80:5: undefined: err", "cmd/inventory/main.go:81:35: undefined: err",
		}, []string{"cmd/inventory/main.go:80:5: undefined: err", "cmd/inventory/main.go:81:35: undefined: err"}},
		{"distinct error codes never collapse", []string{
			"src/a.ts(3,1): error TS2304: x", "src/a.ts(3,1): error TS2305: x",
		}, []string{"src/a.ts(3,1): error TS2304: x", "src/a.ts(3,1): error TS2305: x"}},
		{"one location repeated collapses", []string{
			"x.go:3:1: warning number 1", "x.go:3:1: warning number 2", "x.go:3:1: warning number 3", "x.go:3:1: warning number 4",
		}, []string{"x.go:3:1: warning number 1", "... 2 similar lines collapsed", "x.go:3:1: warning number 4"}},
		{"markers never collapse", []string{
			"... 3 similar lines collapsed", "... 3 similar lines collapsed", "--", "--",
		}, []string{"... 3 similar lines collapsed", "... 3 similar lines collapsed", "--", "--"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			c := collapser{emit: func(b []byte) { got = append(got, string(b)) }}
			for _, l := range tt.in {
				c.add([]byte(l))
			}
			c.finish()
			if !slices.Equal(got, tt.want) {
				t.Errorf("collapse(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskVolatile(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, loose, strict string }{
		{"want 29", "want #", "want 29"},
		{"took 0.00s", "took #.#s", "took #.#s"},
		{"at 7:01:03 PM", "at #:#:# PM", "at #:#:# PM"},
		{"hash e5196ed1 id", "hash # id", "hash # id"},
		{"c0ffee1 has a digit, deadbeef is a word", "# has a digit, deadbeef is a word", "# has a digit, deadbeef is a word"},
		{"TS2551", "TS#", "TS2551"},
		{"update (x12)", "update (x#)", "update (x#)"},
	}
	for _, tt := range tests {
		if got := string(maskVolatile(nil, []byte(tt.in), false)); got != tt.loose {
			t.Errorf("loose mask of %q = %q, want %q", tt.in, got, tt.loose)
		}
		if got := string(maskVolatile(nil, []byte(tt.in), true)); got != tt.strict {
			t.Errorf("strict mask of %q = %q, want %q", tt.in, got, tt.strict)
		}
	}
}

// A 28-line warning block re-printed on every request (Next.js fonts) is
// shown once, then referred to, however long and wherever it repeats.
func TestLongBlockRepeatedBetweenRequests(t *testing.T) {
	t.Parallel()
	var block []string
	for i := 0; i < 28; i++ {
		block = append(block, "warn  - font override "+strings.Repeat("x", i%5)+" for family Inter weight "+string(rune('a'+i)))
	}
	var in []string
	for req := 0; req < 4; req++ {
		in = append(in, "GET /page/"+string(rune('a'+req))+" 200 in 12ms")
		in = append(in, block...)
	}
	out, err := Clean([]byte(strings.Join(in, "\n")+"\n"), Options{MaxLines: 200})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(out, "\n")
	if strings.Count(text, block[27]) != 1 {
		t.Fatalf("the block is shown more than once:\n%s", text)
	}
	for _, want := range []string{"[... same 28 lines as above, 2nd time ...]", "[... same 28 lines as above, 4th time ...]", "GET /page/d 200"} {
		if !strings.Contains(text, want) {
			t.Fatalf("%q missing:\n%s", want, text)
		}
	}
	if len(out) != 28+4+3 {
		t.Fatalf("%d lines, want the block once, 4 requests and 3 references:\n%s", len(out), text)
	}
}

// A tail read of numbered lines shows each of them: three lines are not
// worth a marker, and the newest line is never hidden behind one.
func TestTailReadShowsNewestLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	var in []string
	for i := 1; i <= 20; i++ {
		in = append(in, fmt.Sprintf("line %d", i))
	}
	writeLines(t, w, in)
	for _, tt := range []struct {
		o    ReadOptions
		want []string
	}{
		{ReadOptions{Tail: 3}, []string{"line 18", "line 19", "line 20"}},
		{ReadOptions{Tail: 2}, []string{"line 19", "line 20"}},
	} {
		res, err := Read(dir, "stdout", tt.o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Lines, tt.want) {
			t.Errorf("tail=%d: got %q, want %q", tt.o.Tail, res.Lines, tt.want)
		}
	}
	// A long run collapses, and its last line follows the marker.
	res, err := Read(dir, "stdout", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Lines); n < 2 || res.Lines[n-1] != "line 20" || !strings.HasSuffix(res.Lines[n-2], "similar lines collapsed") {
		t.Errorf("full read: got %q, want a marker then line 20", res.Lines)
	}
}
