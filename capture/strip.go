package capture

import (
	"bytes"
	"io"
)

// EscapeStripper passes raw terminal output on without its escape
// sequences (colours, cursor moves, window titles), for a person reading
// a log through a pipe or with NO_COLOR: the bytes are otherwise as
// written, carriage returns and all (Clean is what redraws the screen).
// Sequences split across writes are recognised.
type EscapeStripper struct {
	w     io.Writer
	state parseState
	buf   []byte
}

// NewEscapeStripper returns an EscapeStripper writing to w.
func NewEscapeStripper(w io.Writer) *EscapeStripper { return &EscapeStripper{w: w} }

// Write writes p without escape sequences. It reports len(p) when the
// rest was written: the dropped bytes were handled.
func (s *EscapeStripper) Write(p []byte) (int, error) {
	out := s.buf[:0]
	for i := 0; i < len(p); {
		if s.state == stGround {
			// Only ESC leaves the ground state: copy up to the next one.
			j := bytes.IndexByte(p[i:], 0x1b)
			if j < 0 {
				out = append(out, p[i:]...)
				break
			}
			out = append(out, p[i:i+j]...)
			i += j
		}
		// The screen's parser (escape.go), minus what the screen draws.
		c := p[i]
		step := escTable[s.state][c]
		s.state = step.next
		switch step.act {
		case actText, actControl:
			out = append(out, c)
		case actReread:
			continue
		}
		i++
	}
	s.buf = out
	if len(out) == 0 {
		return len(p), nil
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
