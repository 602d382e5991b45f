package capture

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// onlySGR matches any escape sequence but a colour (SGR) one.
var notSGR = regexp.MustCompile(`\x1b(\[[0-9;:?<=>]*[^0-9;:?<=>m]|[^\[])`)

// A log replayed on a person's terminal: Vite's clear (48 newlines, then
// home and erase-below), a spinner redrawn with \r, a progress line
// redrawn with cursor-up, all rendered away; colours stay.
func TestRendererKeepsColoursDropsScreenControl(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("\n", 48) + "\x1b[1;1H\x1b[0J" +
		"  \x1b[32mVITE\x1b[39m v5.0.0  ready in \x1b[1m312\x1b[22m ms\n" +
		"⠋ building\r⠙ building\r\x1b[2K✓ built\n" +
		"step 1/2\n\x1b[1A\x1b[2Kstep 2/2\n" +
		"\x1b[31merror\x1b[0m: boom\n"
	var out bytes.Buffer
	r := NewRenderer(&out)
	for _, b := range []byte(in) { // Byte by byte: sequences split across writes.
		if _, err := r.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	want := "  \x1b[32mVITE\x1b[39m v5.0.0  ready in \x1b[1m312\x1b[22m ms\n✓ built\nstep 2/2\n\x1b[31merror\x1b[0m: boom\n\x1b[0m"
	if got != want {
		t.Fatalf("rendered\n%q\nwant\n%q", got, want)
	}
}

// Flush writes what the cursor has left, so followed output shows as it
// comes, and not the line still being drawn.
func TestRendererFlushWritesFinishedLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	r := NewRenderer(&out)
	_, _ = r.Write([]byte("ready on :5173\n50% \x1b[33mbuilding"))
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "ready on :5173\n" {
		t.Fatalf("flushed %q", out.String())
	}
	_, _ = r.Write([]byte("\r\x1b[K100% done\n"))
	_ = r.Close()
	// The yellow was erased with the text it coloured.
	if out.String() != "ready on :5173\n100% done\n" {
		t.Fatalf("closed %q", out.String())
	}
}

// Whatever the bytes, the rendering holds no sequence but colours.
func FuzzRenderer(f *testing.F) {
	for _, s := range []string{"a\x1b[2J\x1b[Hb\n", "\x1b[38;2;1;2;3mx\x1b[1A\x1b[Ky\n", "\x1b]0;title\x07z\r\n", "\x1b[3D\x1b[31m\x1b[5C"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		r := NewRenderer(&out)
		_, _ = r.Write(b)
		_ = r.Close()
		if m := notSGR.FindString(out.String()); m != "" {
			t.Fatalf("rendered %q from %q: holds %q", out.String(), b, m)
		}
	})
}
