package supervisor

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Text with control characters is typed literally or refused, never
// typed so that the terminal acts on it: quoted with literal-next where
// the terminal has it (canonical mode with IEXTEN), refused where the
// terminal would act on a character it cannot quote. Before, canonical
// mode without IEXTEN sent ^U, ^D and erase as they are: ^U erased the
// line typed so far.
func TestLiteral(t *testing.T) {
	t.Parallel()
	const icanon, iexten, isig = 1, 2, 4
	modes := func(flags int) *unix.Termios {
		tio := &unix.Termios{}
		// Set one by one: Lflag's type differs between systems.
		if flags&icanon != 0 {
			tio.Lflag |= unix.ICANON
		}
		if flags&iexten != 0 {
			tio.Lflag |= unix.IEXTEN
		}
		if flags&isig != 0 {
			tio.Lflag |= unix.ISIG
		}
		tio.Cc[unix.VINTR], tio.Cc[unix.VQUIT], tio.Cc[unix.VSUSP] = 0x03, 0x1c, 0x1a
		tio.Cc[unix.VEOF], tio.Cc[unix.VERASE], tio.Cc[unix.VKILL] = 0x04, 0x7f, 0x15
		tio.Cc[unix.VLNEXT] = 0x16
		return tio
	}
	for _, tc := range []struct {
		name    string
		tio     *unix.Termios
		text    string
		want    string // typed bytes; "" when refused
		refused string // what the error names
	}{
		{"unknown modes quote", nil, "a\x03b", "a\x16\x03b", ""},
		{"canonical quotes", modes(icanon | iexten | isig), "a\x15b\x04", "a\x16\x15b\x16\x04", ""},
		{"canonical without IEXTEN refuses kill", modes(icanon | isig), "a\x15b", "", "line editing"},
		{"canonical without IEXTEN refuses EOF", modes(icanon), "a\x04", "", "line editing"},
		{"canonical without IEXTEN refuses a signal", modes(icanon | isig), "a\x03", "", "signal"},
		{"canonical without IEXTEN types the rest", modes(icanon | isig), "a\x1bb", "a\x1bb", ""},
		{"raw refuses a signal", modes(isig), "a\x1a", "", "signal"},
		{"raw types line editing as is", modes(isig), "a\x15\x04\x7f", "a\x15\x04\x7f", ""},
		{"raw without ISIG types all", modes(0), "a\x03\x15", "a\x03\x15", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := literal("task-1", tc.tio, tc.text)
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("typed %q, err %v; want refused naming %q", got, err, tc.refused)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("typed %q, err %v; want %q", got, err, tc.want)
			}
		})
	}
}
