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
	for i := 0; i < len(p); {
		c := p[i]
		// The rules are the screen's (screen.go), minus what it draws:
		// a byte that cannot continue a sequence ends it and is read
		// again, and an unterminated string ends at the end of its line
		// rather than swallow the rest of the log.
		switch s.state {
		case stGround:
			if c == 0x1b {
				s.state = stEscape
			} else {
				out = append(out, c)
			}
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
			case c >= 0x30 && c <= 0x7e:
				s.state = stGround // A two-byte sequence: ESC 7, ESC M ...
			default:
				s.state = stGround
				continue // A lone ESC before a control: keep the control.
			}
		case stEscInter:
			switch {
			case c >= 0x20 && c <= 0x2f:
			case c >= 0x30 && c <= 0x7e:
				s.state = stGround
			default:
				s.state = stGround
				continue
			}
		case stCSI:
			switch {
			case c >= 0x40 && c <= 0x7e:
				s.state = stGround
			case c < 0x20 || c > 0x3f && c < 0x40 || c >= 0x7f:
				s.state = stGround
				continue // Aborted: the byte is text or a control.
			}
		case stString:
			switch c {
			case 0x07:
				s.state = stGround
			case 0x1b:
				s.state = stStringEsc
			case '\n':
				s.state = stGround
				continue
			}
		case stStringEsc:
			if c == '\\' {
				s.state = stGround
			} else {
				s.state = stEscape
				continue // ESC then something else: a new sequence.
			}
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
