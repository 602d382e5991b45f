package capture

import (
	"bytes"
	"testing"
)

func TestEscapeStripper(t *testing.T) {
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
