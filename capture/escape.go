package capture

// The escape-sequence parser of terminal output, shared by the screen
// (screen.go), which executes what it recognises, and the EscapeStripper
// (strip.go), which drops it. Both read one table, escTable: a state and
// a byte give the next state and what the byte does, so the two cannot
// disagree on where a sequence ends.
//
// The rules follow the shape of a VT500-style parser, with two choices
// made for logs rather than screens: a byte that cannot continue a
// sequence (a control, DEL, a non-ASCII byte) ends it and is read again
// as text or a control, instead of being executed in the middle of the
// sequence; and a string (OSC, DCS, SOS, PM, APC) left unterminated ends
// at the end of its line instead of swallowing the rest of the log.

// parseState is where the parser is between two bytes.
type parseState uint8

const (
	stGround    parseState = iota
	stEscape               // after ESC
	stEscInter             // after ESC and intermediate bytes (ESC ( B, ESC # 8)
	stCSI                  // after ESC [
	stString               // inside OSC, DCS, SOS, PM or APC: nothing visible
	stStringEsc            // ESC seen inside a string: ESC \ ends it
	numStates
)

// escAction is what a byte does, beyond moving the parser to its next
// state.
type escAction uint8

const (
	actText     escAction = iota // ground: a byte of text (printable ASCII or UTF-8)
	actControl                   // ground: a C0 control or DEL
	actNone                      // part of a sequence, nothing to execute
	actEscFinal                  // the last byte of ESC x (ESC 7, ESC M, ESC c ...)
	actCSIStart                  // ESC [: parameters start empty
	actCSIParam                  // a digit, or a ';' or ':' between parameters
	actCSIMark                   // a private marker or an intermediate: not a plain CSI
	actCSIFinal                  // the last byte of a CSI sequence
	actReread                    // not part of the sequence: read the byte again in the next state
)

// escStep is one entry of the table.
type escStep struct {
	next parseState
	act  escAction
}

// escTable is the parser: escTable[state][byte].
var escTable = func() (t [numStates][256]escStep) {
	for c := range 256 {
		b := byte(c)
		t[stGround][c] = escStep{stGround, actText}
		if b < 0x20 || b == 0x7f {
			t[stGround][c] = escStep{stGround, actControl}
		}
		if b == 0x1b {
			t[stGround][c] = escStep{stEscape, actNone}
		}

		switch {
		case b == '[':
			t[stEscape][c] = escStep{stCSI, actCSIStart}
		case b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_': // OSC, DCS, SOS, PM, APC
			t[stEscape][c] = escStep{stString, actNone}
		case b >= 0x20 && b <= 0x2f:
			t[stEscape][c] = escStep{stEscInter, actNone}
		case b >= 0x30 && b <= 0x7e:
			t[stEscape][c] = escStep{stGround, actEscFinal}
		case b == 0x1b: // ESC ESC: the first one was alone.
			t[stEscape][c] = escStep{stEscape, actNone}
		default: // A lone ESC before a control or a non-ASCII byte.
			t[stEscape][c] = escStep{stGround, actReread}
		}

		switch {
		case b >= 0x20 && b <= 0x2f:
			t[stEscInter][c] = escStep{stEscInter, actNone}
		case b >= 0x30 && b <= 0x7e: // Charset selection and the like: no effect.
			t[stEscInter][c] = escStep{stGround, actNone}
		default:
			t[stEscInter][c] = escStep{stGround, actReread}
		}

		switch {
		case b >= '0' && b <= '9' || b == ';' || b == ':':
			t[stCSI][c] = escStep{stCSI, actCSIParam}
		case b >= 0x3c && b <= 0x3f || b >= 0x20 && b <= 0x2f: // ? > < = and intermediates
			t[stCSI][c] = escStep{stCSI, actCSIMark}
		case b >= 0x40 && b <= 0x7e:
			t[stCSI][c] = escStep{stGround, actCSIFinal}
		default: // Aborted: the byte is text or a control.
			t[stCSI][c] = escStep{stGround, actReread}
		}

		switch b {
		case 0x07: // BEL ends an OSC, as xterm accepts.
			t[stString][c] = escStep{stGround, actNone}
		case 0x1b:
			t[stString][c] = escStep{stStringEsc, actNone}
		case '\n':
			t[stString][c] = escStep{stGround, actReread}
		default:
			t[stString][c] = escStep{stString, actNone}
		}

		if b == '\\' {
			t[stStringEsc][c] = escStep{stGround, actNone}
		} else { // ESC then something else: a new sequence.
			t[stStringEsc][c] = escStep{stEscape, actReread}
		}
	}
	return t
}()

// isCtl marks the bytes that end a run of text in the ground state: C0
// controls (ESC among them) and DEL. It is the table's ground row, as a bool per byte for
// the screen's fast path.
var isCtl = func() (t [256]bool) {
	for c := range 256 {
		t[c] = escTable[stGround][c].act != actText
	}
	return t
}()
