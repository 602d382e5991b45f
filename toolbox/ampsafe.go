package toolbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Amp renders a toolbox tool's answer at 1000 columns and hard-wraps
// longer lines, inside JSON strings too, which breaks the JSON and splits
// words. Under Amp (its runner sets AGENT_THREAD_ID and
// AMP_CURRENT_THREAD_ID), answers are therefore re-encoded so that no
// physical line reaches maxPhysicalLine: one member per line, and a
// string holding several lines (stdout, stderr) or a very long one becomes
// an array of its lines, cut into pieces where a line is too long. The
// result is still JSON with the same member names, and reads well.

// maxPhysicalLine bounds a line of an answer under Amp, with room under
// Amp's 1000 columns for indentation and quotes.
const maxPhysicalLine = 900

// underAmp reports whether Amp's toolbox runner runs us.
func (a *App) underAmp() bool {
	return a.Getenv("AGENT_THREAD_ID") != "" || a.Getenv("AMP_CURRENT_THREAD_ID") != ""
}

// ampSafe re-encodes one JSON value as described above, keeping the order
// of members.
func ampSafe(in []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var out bytes.Buffer
	if err := reencode(dec, &out, 0); err != nil {
		return nil, fmt.Errorf("re-encode answer: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func reencode(dec *json.Decoder, out *bytes.Buffer, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	indent := func(d int) { out.WriteByte('\n'); out.WriteString(strings.Repeat(" ", d)) }
	switch v := tok.(type) {
	case json.Delim:
		closing := map[json.Delim]byte{'{': '}', '[': ']'}[v]
		out.WriteByte(byte(v))
		n := 0
		for dec.More() {
			if n > 0 {
				out.WriteByte(',')
			}
			indent(depth + 1)
			if v == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				writeString(out, key.(string))
				out.WriteString(": ")
			}
			if err := reencode(dec, out, depth+1); err != nil {
				return err
			}
			n++
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		if n > 0 {
			indent(depth)
		}
		out.WriteByte(closing)
	case string:
		if !strings.Contains(v, "\n") && len(v) <= maxPhysicalLine-depth-8 {
			writeString(out, v)
			return nil
		}
		out.WriteByte('[')
		for i, piece := range pieces(v) {
			if i > 0 {
				out.WriteByte(',')
			}
			indent(depth + 1)
			writeString(out, piece)
		}
		indent(depth)
		out.WriteByte(']')
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out.Write(b)
	}
	return nil
}

// pieces splits s into its lines, and lines too long into pieces of at
// most maxPhysicalLine/2 bytes (escaping can double a piece), on rune
// boundaries.
func pieces(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for len(line) > maxPhysicalLine/2 {
			cut := maxPhysicalLine / 2
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			out = append(out, line[:cut])
			line = line[cut:]
		}
		out = append(out, line)
	}
	return out
}

func writeString(out *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // Logs are full of <, > and &.
	_ = enc.Encode(s)        // A string always encodes.
	out.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
