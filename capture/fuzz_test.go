package capture

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzOptions picks options from the fuzzer's mode byte: bit 0 sets a
// working directory, bit 1 a short line length (so truncation and path
// shortening interact), bit 2 a small cap, bit 3 a filter with context
// (which the literal matcher serves).
func fuzzOptions(mode uint8) Options {
	var o Options
	if mode&1 != 0 {
		o.Cwd = "/home/dev/proj"
	}
	if mode&2 != 0 {
		o.MaxLineLen = 24
	}
	if mode&4 != 0 {
		o.MaxLines = 5
	}
	if mode&8 != 0 {
		o.Filter = "err|warn|k8s"
		o.Context = 1
	}
	return o
}

// FuzzClean checks the cleaner's invariants on arbitrary input: no panic,
// valid UTF-8 without escape bytes, the same result however the input is
// chunked, and idempotence.
func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"plain line\nsecond\n",
		"\x1b[32minfo\x1b[39m done\r\n",
		"50%\r100%\r\n",
		"spin \x1b[1G\x1b[0Kdone\n",
		"RUNS a\r\n\x1b[1A\x1b[K PASS a\r\n",
		"a\x1b[2J\x1b[3J\x1b[Hb\n",
		"\x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n",
		"abc\b\bX\n\x1b(B\x1b[?2026h\x1b[?2004l",
		"at f (/home/dev/proj/node_modules/.pnpm/a@1.0.0_b@2.0.0/node_modules/a/x.js:1:2)\n",
		"GET / 200 1.2 ms\nGET / 200 3.4 ms\nGET / 200 5.6 ms\n",
		"x 1\n... 3 similar lines collapsed\n... 3 similar lines collapsed\n[... 2 earlier lines omitted ...]\n--\n",
		"\xff\xfe bad \xe2\x82 utf8\n",
		strings.Repeat("long words ", 40) + "\n",
		"A\nB\nA\nB\nA\nB\nC\n",
		"ERR one\nctx\nother\nWarning \u212A8s\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(0xff))
	}
	f.Fuzz(func(t *testing.T, raw []byte, mode uint8) {
		o := fuzzOptions(mode)
		out, err := Clean(raw, o)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range out {
			if !utf8.ValidString(l) {
				t.Fatalf("line %d is not valid UTF-8: %q", i, l)
			}
			if strings.IndexByte(l, 0x1b) >= 0 {
				t.Fatalf("line %d keeps an ESC: %q", i, l)
			}
		}
		if o.Filter != "" {
			// The literal fast path must agree with the regexp.
			m, err := newMatcher("filter", o.Filter)
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.MustCompile("(?i)" + o.Filter)
			for _, l := range bytes.Split(raw, []byte("\n")) {
				l = bytes.ToValidUTF8(l, []byte("\uFFFD"))
				if m.match(l) != re.Match(l) {
					t.Fatalf("matcher and regexp disagree on %q", l)
				}
			}
		}
		if len(out) > o.MaxLines && o.MaxLines > 0 {
			t.Fatalf("%d lines, more than MaxLines %d", len(out), o.MaxLines)
		}

		// Streaming: the same input in small chunks gives the same lines.
		p, err := NewPipeline(o)
		if err != nil {
			t.Fatal(err)
		}
		chunk := int(mode>>4) + 1
		for rest := raw; len(rest) > 0; {
			n := min(chunk, len(rest))
			p.Write(rest[:n])
			rest = rest[n:]
		}
		if chunked := p.Close(); !slices.Equal(chunked, out) {
			t.Fatalf("written in chunks of %d:\n%q\nat once:\n%q", chunk, chunked, out)
		}

		// Idempotence: cleaning the cleaned output changes nothing.
		if o.Filter != "" {
			return // a filter drops the lines that gave its matches context
		}
		var joined bytes.Buffer
		for _, l := range out {
			joined.WriteString(l)
			joined.WriteByte('\n')
		}
		again, err := Clean(joined.Bytes(), o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(again, out) {
			t.Fatalf("cleaning again changed the output:\nfirst:  %q\nsecond: %q", out, again)
		}
	})
}
