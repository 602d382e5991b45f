package capture

import (
	"slices"
	"strings"
	"testing"
)

// screenLines runs the terminal emulator alone and returns every line it
// emits, blank ones included.
func screenLines(raw string) []string {
	var out []string
	s := newScreen(func(b []byte) { out = append(out, string(b)) })
	s.write([]byte(raw))
	s.finish()
	return out
}

func TestScreen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"plain", "a\nb\n", []string{"a", "b"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"trailing line without newline", "a\nb", []string{"a", "b"}},
		{"carriage return keeps the last frame", "10%\r50%\r100%\n", []string{"100%"}},
		{"shorter redraw leaves the tail", "abcdef\rXY\n", []string{"XYcdef"}},
		{"redraw with erase", "abcdef\r\x1b[KXY\n", []string{"XY"}},
		{"erase line 0K", "abcdef\x1b[3D\x1b[0K\n", []string{"abc"}},
		{"erase to start 1K", "abcdef\x1b[3D\x1b[1K\n", []string{"    ef"}},
		{"erase whole line 2K keeps the column", "abcdef\x1b[2Kxy\n", []string{"      xy"}},
		{"npm spinner", "⠙\x1b[1G\x1b[0K⠹\x1b[1G\x1b[0Kadded 5 packages\n", []string{"added 5 packages"}},
		{"column 999D", "spinner\x1b[999D\x1b[Kdone\n", []string{"done"}},
		{"cursor column G", "abcdef\x1b[3GZ\n", []string{"abZdef"}},
		{"backspace", "abc\b\bX\n", []string{"aXc"}},
		{"backspace erase idiom", "abc\b \b\n", []string{"ab "}},
		{"cursor up redraw", "RUNS a\r\n\x1b[1A\x1b[KPASS a\r\nnext\r\n", []string{"PASS a", "next"}},
		{"cursor up several lines", "one\ntwo\nthree\n\x1b[2A\x1b[2KTWO\n", []string{"one", "TWO", "three"}},
		{"previous line F", "one\ntwo\x1b[F\x1b[KONE\n", []string{"ONE", "two"}},
		{"pnpm progress", "\x1b[K\x1b[0J\r\x1b[1AProgress: 1\r\n\x1b[K\x1b[0J\r\x1b[1AProgress: 2\r\n\x1b[K\x1b[0J\r\x1b[1AProgress: 3, done\r\n",
			[]string{"Progress: 3, done"}},
		{"erase below drops lines", "a\nb\nc\x1b[2A\r\x1b[0Jz\n", []string{"z"}},
		{"full clear is a separator", "error one\n\x1b[2J\x1b[3J\x1b[Herror two\n", []string{"error one", "", "error two"}},
		{"home and erase below is a clear", "old\n\x1b[1;1H\x1b[0Jnew\n", []string{"old", "", "new"}},
		{"position below home opens a line", "a\x1b[5;3Hb\n", []string{"a", "  b"}},
		{"save and restore cursor", "line\x1b7\x1b[36;1Hstatus\x1b8 more\n", []string{"line more", "status"}},
		{"osc title dropped", "\x1b]0;user@host: ~\x07$ make\n", []string{"$ make"}},
		{"osc st terminator", "\x1b]0;title\x1b\\text\n", []string{"text"}},
		{"osc 8 keeps the visible text", "see \x1b]8;;https://gcc.gnu.org/x\x1b\\-Wshadow\x1b]8;;\x1b\\ here\n", []string{"see -Wshadow here"}},
		{"unterminated osc ends at newline", "\x1b]0;never ends\nnext\n", []string{"", "next"}},
		{"sgr colors", "\x1b[1;31merror\x1b[0m: \x1b[38;5;208mx\x1b[39m\n", []string{"error: x"}},
		{"private modes", "\x1b[?2026h\x1b[?25lframe\x1b[?2026l\x1b[?2004h\n", []string{"frame"}},
		{"charset select", "\x1b(Bplain\x1b)0\n", []string{"plain"}},
		{"lone esc", "a\x1b\nb\n", []string{"a", "b"}},
		{"lone esc before a rune", "a\x1bé\n", []string{"aé"}},
		{"other c0 controls", "a\x07b\x00c\x0ed\x7f\n", []string{"abcd"}},
		{"tab kept", "ok\t\tpkg\n", []string{"ok\t\tpkg"}},
		{"invalid utf-8 replaced", "a\xffb\n", []string{"a\uFFFDb"}},
		{"overwrite multibyte", "héllo\r\x1b[2Cy\n", []string{"héylo"}},
		{"delete characters", "abcdef\x1b[3D\x1b[2P\n", []string{"abcf"}},
		{"insert blanks", "abcdef\x1b[3D\x1b[2@\n", []string{"abc  def"}},
		{"erase characters", "abcdef\x1b[3D\x1b[2X\n", []string{"abc  f"}},
		{"huge parameter clamps to the last column", "a\x1b[99999999999999999999Cb\n", []string{"a" + TruncatedMarker}},
		{"text past the last column is marked dropped", strings.Repeat("x", maxScreenCols) + "yz\nnext\n", []string{strings.Repeat("x", maxScreenCols) + TruncatedMarker, "next"}},
		{"erasing the line's rest forgets what was dropped", strings.Repeat("x", maxScreenCols) + "y\r\x1b[Kshort\n", []string{"short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := screenLines(tt.raw); !slices.Equal(got, tt.want) {
				t.Errorf("screen(%q)\n got %q\nwant %q", tt.raw, got, tt.want)
			}
		})
	}
}

// TestScreenChunking feeds input one byte at a time: escape sequences and
// UTF-8 runes split across writes must not change the result.
func TestScreenChunking(t *testing.T) {
	t.Parallel()
	raw := "\x1b[1;31mé€😀\x1b[0m\r\n\x1b]8;;u\x1b\\x\x1b]8;;\x1b\\\r\x1b[K⠙\x1b[1G\x1b[0Kdone\n"
	whole := screenLines(raw)
	var got []string
	s := newScreen(func(b []byte) { got = append(got, string(b)) })
	for i := range len(raw) {
		s.write([]byte{raw[i]})
	}
	s.finish()
	if !slices.Equal(got, whole) {
		t.Errorf("byte by byte %q, at once %q", got, whole)
	}
	if want := []string{"é€😀", "done"}; !slices.Equal(whole, want) {
		t.Errorf("got %q, want %q", whole, want)
	}
}

// TestScreenWindow checks that cursor-up reaches back screenWindow lines
// and that lines further up have left the screen unchanged.
func TestScreenWindow(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 3 * screenWindow {
		b.WriteString("line ")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("\n")
	}
	n := 3 * screenWindow
	b.WriteString("\x1b[64A\x1b[2Kredrawn\n")
	got := screenLines(b.String())
	if len(got) != n {
		t.Fatalf("%d lines, want %d", len(got), n)
	}
	if got[n-screenWindow] != "redrawn" {
		t.Errorf("line %d = %q, want the redrawn line", n-screenWindow, got[n-screenWindow])
	}
}

// TestScreenMemory writes a long line without newlines, as a progress bar
// drawn with \r does, and checks the line stays bounded.
func TestScreenMemory(t *testing.T) {
	t.Parallel()
	s := newScreen(func([]byte) {})
	chunk := []byte(strings.Repeat("y", 4096))
	for range 100 {
		s.write(chunk)
	}
	if n := len(s.lines[0].b); n != maxScreenCols {
		t.Errorf("line holds %d bytes, want the %d column bound", n, maxScreenCols)
	}
}
