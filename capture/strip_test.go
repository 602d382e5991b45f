package capture

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeStripper(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"plain\nlines\n", "plain\nlines\n"},
		{"\x1b[31merror\x1b[0m: boom\n", "error: boom\n"},
		{"\x1b]0;title\x07after", "after"},
		{"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"a\x1b7b\x1b8c", "abc"},
		{"\x1b(Bx", "x"},
		{"50%\r\x1b[K100%\n", "50%\r100%\n"},
		// An unterminated title ends with its line, not with the log.
		{"\x1b]0;title never ended\nnext line\n", "\nnext line\n"},
		// ESC inside a string, not followed by \, starts a new sequence.
		{"\x1b]0;t\x1b[31mred\n", "red\n"},
		// A control byte ends a sequence and is kept.
		{"\x1b[31\nx", "\nx"},
	} {
		// Byte by byte too: sequences split across writes.
		for _, split := range []bool{false, true} {
			var out bytes.Buffer
			s := NewEscapeStripper(&out)
			if split {
				for i := range len(tt.in) {
					if _, err := s.Write([]byte{tt.in[i]}); err != nil {
						t.Fatal(err)
					}
				}
			} else if _, err := s.Write([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("%q (split %v): %q, want %q", tt.in, split, out.String(), tt.want)
			}
		}
	}
}

func FuzzEscapeStripper(f *testing.F) {
	f.Add([]byte("\x1b[1;31mred\x1b[0m\n"))
	f.Add([]byte("\x1b]0;t\x1b\\x"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		n, err := NewEscapeStripper(&out).Write(in)
		if err != nil || n != len(in) {
			t.Fatalf("wrote %d of %d: %v", n, len(in), err)
		}
		if bytes.IndexByte(out.Bytes(), 0x1b) >= 0 {
			t.Fatalf("ESC left in %q from %q", out.Bytes(), in)
		}
		if bytes.IndexByte(in, 0x1b) < 0 && !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("text without escapes changed: %q -> %q", in, out.Bytes())
		}
	})
}

// screenEffect tells whether in holds a sequence the screen executes
// (a cursor move, an erase, a saved cursor...): without one, the screen
// must show the same lines with or without the sequences, which is what
// keeps the stripper and the screen agreeing on where sequences end.
// Every CSI final but SGR's 'm' counts, to stay on the safe side.
func screenEffect(in []byte) bool {
	st, private := stGround, false
	for i := 0; i < len(in); {
		step := escTable[st][in[i]]
		st = step.next
		switch step.act {
		case actEscFinal:
			if strings.IndexByte("78MDEc", in[i]) >= 0 {
				return true
			}
		case actCSIStart:
			private = false
		case actCSIMark:
			private = true
		case actCSIFinal:
			if !private && in[i] != 'm' {
				return true
			}
		case actReread:
			continue
		}
		i++
	}
	return false
}

func stripped(in []byte) []byte {
	var out bytes.Buffer
	_, _ = NewEscapeStripper(&out).Write(in) // A bytes.Buffer does not fail.
	return out.Bytes()
}

// The cases where the two parsers once drifted (commit e90f060): the
// stripper drops exactly what the screen does.
func TestStripperAgreesWithScreen(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"\x1b]0;title never ended\nnext line\n",
		"\x1b]0;t\x1b[31mred\n",
		"\x1b[31\nx\n",
		"\x1b\x1b[1mbold\x1b[0m\n",
		"\x1b(B\x1b#8\x1b[?25l\x1b[?25hvisible\n",
		"\x1bP1$r\x1b\\dcs\x1b_apc\x07\x1b^pm\x1b\\\n",
		"esc then control \x1b\tx\n",
	} {
		if screenEffect([]byte(in)) {
			t.Fatalf("%q: a case with a screen effect cannot compare", in)
		}
		got, want := screenLines(string(stripped([]byte(in)))), screenLines(in)
		if !slices.Equal(got, want) {
			t.Errorf("%q: the screen shows %q, but %q once stripped", in, want, got)
		}
	}
}

func FuzzStripperAgreesWithScreen(f *testing.F) {
	f.Add([]byte("\x1b]0;title never ended\nnext line\n"))
	f.Add([]byte("\x1b[1;31mred\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Valid UTF-8 only: a sequence cutting a rune in two makes two
		// broken runes on the screen but one whole rune once stripped.
		if !utf8.Valid(in) || screenEffect(in) {
			t.Skip()
		}
		got, want := screenLines(string(stripped(in))), screenLines(string(in))
		if !slices.Equal(got, want) {
			t.Fatalf("%q: the screen shows %q, but %q once stripped", in, want, got)
		}
	})
}
