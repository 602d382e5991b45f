package capture

import (
	"slices"
	"strings"
	"testing"
)

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func TestClean(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefghij", 30) // 300 runes, no diagnostic word
	tests := []struct {
		name string
		raw  string
		o    Options
		want []string
	}{
		{"escapes stripped", "\x1b[32minfo\x1b[39m ready\r\n", Options{}, []string{"info ready"}},
		{"blank and whitespace lines dropped", lines("a", "", "   \t", "\x1b[K", "b  "), Options{}, []string{"a", "b"}},
		{"truncation boundary: at the limit", strings.Repeat("x", 10) + "\n", Options{MaxLineLen: 10}, []string{strings.Repeat("x", 10)}},
		{"truncation boundary: one over", strings.Repeat("x", 11) + "\n", Options{MaxLineLen: 10}, []string{strings.Repeat("x", 10) + TruncatedMarker}},
		{"truncation counts runes", strings.Repeat("é", 10) + "\n", Options{MaxLineLen: 10}, []string{strings.Repeat("é", 10)}},
		{"default limit", long + "\n", Options{}, []string{long[:150] + TruncatedMarker}},
		{"diagnostics keep three times as much", "error: " + long[:300] + "\n", Options{}, []string{"error: " + long[:300]}},
		{"a cut between words leaves single spaces around the marker", "error: xyz" + strings.Repeat("abcd ", 100) + "\n", Options{MaxLineLen: 20},
			[]string{"error: xyzabcd abcd abcd abcd abcd abcd " + TruncatedMarker + " abcd"}},
		{"longer diagnostics keep head and end", "error: " + long + long + " the cause\n", Options{}, []string{("error: " + long)[:300] + " " + TruncatedMarker + " " + (long + " the cause")[310-134:]}},
		{"CI timestamps dropped", "2026-04-22T16:27:50.8673728Z boom\n2026-04-22T16:27:51Z\n", Options{}, []string{"boom"}},
		{"other timestamps kept", "2026-04-22 16:27:50 boom\n", Options{}, []string{"2026-04-22 16:27:50 boom"}},
		{"caret escapes dropped", "^[[31merror^[[0m: x\n", Options{}, []string{"error: x"}},
		{"diagnostic word must be in the kept part", long[:150] + " error\n", Options{}, []string{long[:150] + TruncatedMarker}},
		{"path shortened before truncation", "at f (/home/dev/app/node_modules/.pnpm/axios@1.21.1_debug@4.4.3/node_modules/axios/lib/x.js:1:2)\n",
			Options{MaxLineLen: 60}, []string{"at f (.pnpm/axios@1.21.1_@.../axios/lib/x.js:1:2)"}},
		{"cwd", "/home/dev/app/src/x.ts:1:2 - error\n", Options{Cwd: "/home/dev/app"}, []string{"src/x.ts:1:2 - error"}},
		{"filter is case-insensitive", lines("Error one", "fine", "ERROR two"), Options{Filter: "error"}, []string{"Error one", "ERROR two"}},
		{"filter sees cleaned text", "\x1b[31mer\x1b[0mror\n", Options{Filter: "error"}, []string{"error"}},
		{"exclude first", lines("GET 200 /a", "GET 500 /b", "boom"), Options{Exclude: "GET 200", Filter: "get|boom"}, []string{"GET 500 /b", "boom"}},
		{"context with separator", lines("1", "2", "E1", "4", "5", "6", "7", "E2", "9"), Options{Filter: "^E", Context: 1},
			[]string{"2", "E1", "4", "--", "7", "E2", "9"}},
		{"adjacent context groups join", lines("a", "E1", "c", "d", "E2", "f"), Options{Filter: "^E", Context: 1},
			[]string{"a", "E1", "c", "d", "E2", "f"}},
		{"no separator before the first group", lines("1", "2", "3", "E"), Options{Filter: "^E"}, []string{"E"}},
		{"no separator without context", lines("E a", "x", "E b"), Options{Filter: "^E"}, []string{"E a", "E b"}},
		{"collapse after filter", lines("err: retry 1 refused", "ok", "err: retry 2 refused", "ok", "err: retry 3 refused", "ok", "err: retry 4 refused"), Options{Filter: "err"},
			[]string{"err: retry 1 refused", "... 2 similar lines collapsed", "err: retry 4 refused"}},
		{"collapse of consecutive matches", lines("err: retry 1 refused", "err: retry 2 refused", "err: retry 3 refused", "err: retry 4 refused", "ok"), Options{Filter: "err"},
			[]string{"err: retry 1 refused", "... 2 similar lines collapsed", "err: retry 4 refused"}},
		{"no collapse that saves nothing", lines("err 1", "ok", "err 2", "ok", "err 3"), Options{Filter: "err"},
			[]string{"err 1", "err 2", "err 3"}},
		{"cap keeps the newest, marker counts", lines("a", "b", "c", "d", "e"), Options{MaxLines: 3},
			[]string{"[... 3 earlier lines omitted ...]", "d", "e"}},
		{"cap exactly full", lines("a", "b", "c"), Options{MaxLines: 3}, []string{"a", "b", "c"}},
		{"cap of one: the newest line, no room for a marker", lines("a", "b"), Options{MaxLines: 1}, []string{"b"}},
		{"raw keeps escapes and blanks", "\x1b[31mred\x1b[0m\r\n\n50%\r100%\n", Options{Raw: true},
			[]string{"\x1b[31mred\x1b[0m", "", "50%\r100%"}},
		{"raw still filters and caps", lines("x 1", "err", "x 2", "err 2", "err 3"), Options{Raw: true, Filter: "err", MaxLines: 2},
			[]string{"[... 2 earlier lines omitted ...]", "err 3"}},
		{"raw makes valid utf-8", "a\xffb\n", Options{Raw: true}, []string{"a\uFFFDb"}},
		{"trailing line without newline", "a\nb", Options{}, []string{"a", "b"}},
		{"empty input", "", Options{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Clean([]byte(tt.raw), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Clean(%q, %+v)\n got %q\nwant %q", tt.raw, tt.o, got, tt.want)
			}
		})
	}
}

func TestCleanOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Filter: "("}, "invalid filter regex \"(\": error parsing regexp: missing closing ): `(`"},
		{Options{Exclude: "[a"}, "invalid exclude regex \"[a\": error parsing regexp: missing closing ]: `[a`"},
		{Options{MaxLines: -1}, "max_lines: must not be negative, got -1"},
		{Options{MaxLineLen: -5}, "max_line_len: must not be negative, got -5"},
		{Options{Context: -2}, "context: must not be negative, got -2"},
		{Options{MaxLineLen: 1 << 20}, "max_line_len: must be at most 65536, got 1048576"},
	}
	for _, tt := range tests {
		_, err := NewPipeline(tt.o)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewPipeline(%+v) error = %v\nwant %s", tt.o, err, tt.want)
		}
		if _, err := Clean(nil, tt.o); err == nil {
			t.Errorf("Clean(%+v) accepted invalid options", tt.o)
		}
	}
}

func TestCleanStats(t *testing.T) {
	t.Parallel()
	p, err := NewPipeline(Options{Filter: "err", Exclude: "skip", MaxLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte(lines("err: retry 1 refused", "", "skip err", "err: retry 2 refused", "err: retry 3 refused", "err: retry 4 refused", "other", "err x") + "tail err"))
	out := p.Close()
	// Matches: err: retry 1 to 4 (2 and 3 collapsed), err x, tail err.
	want := []string{"[... 4 earlier lines omitted ...]", "tail err"}
	if !slices.Equal(out, want) {
		t.Fatalf("got %q, want %q", out, want)
	}
	got := p.Stats()
	wantStats := Stats{LinesIn: 9, LinesBlank: 1, LinesExcluded: 1, LinesMatched: 6, LinesCollapsed: 2, LinesOmitted: 4}
	if got != wantStats {
		t.Errorf("stats %+v\nwant  %+v", got, wantStats)
	}
}

// TestCleanStreamingMemory writes 16 MB through a pipeline and checks the
// heap stays bounded: the pipeline keeps only what its steps need.
func TestCleanStreamingMemory(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 16 MB")
	}
	p, err := NewPipeline(Options{Filter: "error", Context: 2})
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("GET /api 200 1.2 ms\r\n\x1b[31merror\x1b[0m: boom 7\r\n50%\r100%\r\n", 1<<12))
	for range (16 << 20) / len(chunk) {
		p.Write(chunk)
	}
	retained := 0
	for _, b := range p.tail.bufs {
		retained += cap(b)
	}
	for _, l := range p.screen.lines {
		retained += cap(l.b)
	}
	if retained > 1<<20 {
		t.Errorf("pipeline retains %d bytes after 16 MB", retained)
	}
	out := p.Close()
	// With two lines of context every line passes, as a block of three,
	// and the run's last line follows the marker.
	if want := []string{"GET /api 200 1.2 ms", "error: boom 7", "100%", CollapsedMarker(p.Stats().LinesIn - 4), "100%"}; !slices.Equal(out, want) {
		t.Errorf("got %q, want %q", out, want)
	}
}
