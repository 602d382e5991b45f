package capture

import "io"

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
	for _, c := range p {
		switch s.state {
		case stGround:
			if c == 0x1b {
				s.state = stEscape
				continue
			}
			out = append(out, c)
		case stEscape:
			switch {
			case c == '[':
				s.state = stCSI
			case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
				s.state = stString // OSC, DCS, SOS, PM, APC
			case c >= 0x20 && c <= 0x2f:
				s.state = stEscInter
			case c == 0x1b:
				// ESC ESC: the first one was alone.
			default:
				s.state = stGround // A two-byte sequence: ESC 7, ESC M ...
			}
		case stEscInter:
			if c < 0x20 || c > 0x2f {
				s.state = stGround
			}
		case stCSI:
			if c >= 0x40 && c <= 0x7e {
				s.state = stGround
			}
		case stString:
			switch c {
			case 0x07:
				s.state = stGround
			case 0x1b:
				s.state = stStringEsc
			}
		case stStringEsc:
			if c == '\\' {
				s.state = stGround
			} else if c != 0x1b {
				s.state = stString
			}
		}
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
