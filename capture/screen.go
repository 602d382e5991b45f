package capture

import (
	"encoding/binary"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The screen turns the bytes a program wrote to its terminal into the lines
// the terminal finally showed. It is a deliberately small emulator: it keeps
// the effect of carriage returns, backspaces, erase-line, erase-below,
// cursor movement within a bounded window of recent lines, and treats full
// screen clears as separators, because a log is a history and the lines a
// program cleared away (a compiler's errors before a watch-mode rebuild) are
// exactly what an agent wants to read. It does not wrap at a terminal width
// (the width is unknown) and counts every rune as one column.

const (
	// screenWindow is how many lines above the cursor a cursor-up can
	// reach. Spinners and progress bars redraw a handful of lines; lines
	// further up are final and leave the screen, which keeps memory flat.
	screenWindow = 64

	// maxScreenCols bounds one line's width. Programs that draw with \r
	// (webpack --progress) can write megabytes without a newline; only
	// what lands in the first maxScreenCols columns is kept.
	maxScreenCols = 1 << 16

	// maxCSIParams bounds the numeric parameters kept for one control
	// sequence; real sequences use at most a few (SGR colors use five).
	maxCSIParams = 16
)

// tab is the one control character a line keeps.
var tab = []byte{'\t'}

// screenLine is one line of the screen: visible text only.
type screenLine struct {
	b     []byte // valid UTF-8, no control characters except tab
	cols  int    // runes in b
	ascii bool   // b is all ASCII, so a column is a byte offset
	// marks are the colour sequences (SGR) written on the line, by the
	// column they were written at; kept only by a screen with colors set.
	marks []sgrMark
	// clipped is set when text past maxScreenCols was dropped: the line
	// is emitted with TruncatedMarker, so that no reader takes it whole.
	clipped bool
}

// sgrMark is one colour sequence at a column of a line.
type sgrMark struct {
	col int
	seq string
}

func (l *screenLine) reset() {
	l.b = l.b[:0]
	l.cols = 0
	l.ascii = true
	l.marks = l.marks[:0]
	l.clipped = false
}

// offset returns the byte offset of column c, or len(l.b) past the end.
func (l *screenLine) offset(c int) int {
	if c >= l.cols {
		return len(l.b)
	}
	if l.ascii {
		return c
	}
	off := 0
	for ; c > 0; c-- {
		_, n := utf8.DecodeRune(l.b[off:])
		off += n
	}
	return off
}

// screen is the emulator. Lines leave it through emit once the cursor can
// no longer reach them, or at finish.
type screen struct {
	emit func([]byte)
	// colors keeps colour sequences where they were written: the lines
	// emitted carry them (for a person's terminal; the cleaner drops them).
	colors  bool
	colored []byte // scratch for a line with its colours
	// cleared, when set, is called after a full clear has emitted what
	// was on the screen.
	cleared func()

	lines    []*screenLine // the window; the cursor is on lines[row]
	free     []*screenLine // recycled lines, to avoid an allocation per line
	row, col int
	base     int // lines emitted so far, so saved cursors survive a flush

	savedRow, savedCol int // absolute row (base+row) and column of ESC 7

	state   parseState
	params  [maxCSIParams]int
	nparams int
	private bool // CSI with a private marker (?, >, <, =) or intermediates

	carry  []byte // an incomplete UTF-8 sequence at the end of a Write
	fix    []byte // scratch for replacing invalid UTF-8
	tail   []byte // scratch for splicing inside a line
	clip   []byte // scratch for a clipped line with its marker
	spaces []byte // scratch run of spaces

	newlines int // '\n' bytes seen, for Stats.LinesIn
}

func newScreen(emit func([]byte)) *screen {
	s := &screen{emit: emit}
	s.lines = append(s.lines, s.newLine())
	return s
}

func (s *screen) newLine() *screenLine {
	if n := len(s.free); n > 0 {
		l := s.free[n-1]
		s.free = s.free[:n-1]
		l.reset()
		return l
	}
	return &screenLine{b: make([]byte, 0, 256), ascii: true} // most lines fit
}

// write feeds bytes. An incomplete UTF-8 sequence at the end is held back
// until the next write so a rune split across reads stays one rune.
func (s *screen) write(b []byte) {
	if len(s.carry) > 0 {
		i := 0
		for i < len(b) && !utf8.FullRune(s.carry) && b[i]&0xC0 == 0x80 {
			s.carry = append(s.carry, b[i])
			i++
		}
		if !utf8.FullRune(s.carry) && i == len(b) {
			return // still incomplete: wait for more
		}
		c := s.carry
		s.carry = s.carry[:0]
		s.feed(c)
		b = b[i:]
	}
	if k := incompleteTail(b); k > 0 {
		s.carry = append(s.carry[:0], b[len(b)-k:]...)
		b = b[:len(b)-k]
	}
	s.feed(b)
}

// printableRun returns the end of the run of printable bytes (no C0
// control, no DEL) starting at i, and whether the run is ASCII. It looks
// at eight bytes at a time: most of a log is printable text.
func printableRun(b []byte, i int) (end int, ascii bool) {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	j, acc := i, uint64(0)
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		// A byte below 0x20, or a byte equal to 0x7f, ends the run.
		lt := (x - 0x20*ones) & ^x & highs
		y := x ^ 0x7f*ones
		del := (y - ones) & ^y & highs
		if lt|del != 0 {
			break
		}
		acc |= x
		j += 8
	}
	hi := byte(0)
	if acc&highs != 0 {
		hi = 0x80
	}
	for j < len(b) && !isCtl[b[j]] {
		hi |= b[j]
		j++
	}
	return j, hi < 0x80
}

// skipSGR returns the end of the SGR sequence (ESC [ digits and ; then m)
// starting at i, or i when there is none complete in b.
func skipSGR(b []byte, i int) int {
	j := i + 2
	if j > len(b) || b[i+1] != '[' {
		return i
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c >= '0' && c <= '9' || c == ';':
		case c == 'm':
			return j + 1
		default:
			return i
		}
	}
	return i
}

// incompleteTail returns the length of a UTF-8 sequence cut off at the end of b.
func incompleteTail(b []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a start byte
			if utf8.FullRune(b[len(b)-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}

// finish ends the input and emits every line still on the screen.
func (s *screen) finish() {
	if len(s.carry) > 0 {
		c := s.carry
		s.carry = nil
		s.feed(c)
	}
	s.state = stGround
	if last := s.lines[len(s.lines)-1]; len(last.b) == 0 {
		// The newline after the last line opened this one; it is not a line.
		s.lines = s.lines[:len(s.lines)-1]
	}
	s.flush(len(s.lines))
	s.lines = append(s.lines[:0], s.newLine())
	s.row, s.col = 0, 0
}

// feed runs the parser (escTable) over b and executes what it finds.
func (s *screen) feed(b []byte) {
	for i := 0; i < len(b); {
		if s.state == stGround {
			// Fast path: a run of printable text goes in at once.
			if j, ascii := printableRun(b, i); j > i {
				s.put(b[i:j], ascii)
				i = j
				continue
			}
			// Fast path: a color sequence (ESC [ params m), the most
			// common escape, has no effect and is skipped in one go,
			// where the table would take it byte by byte to the same end.
			if b[i] == 0x1b {
				if j := skipSGR(b, i); j > i {
					if s.colors {
						s.mark(string(b[i:j]))
					}
					i = j
					continue
				}
			}
		}
		c := b[i]
		step := escTable[s.state][c]
		s.state = step.next
		switch step.act {
		case actControl:
			s.control(c)
		case actEscFinal:
			s.escFinal(c)
		case actCSIStart:
			s.nparams = 0
			s.params[0] = 0
			s.private = false
		case actCSIParam:
			s.csiParam(c)
		case actCSIMark:
			s.private = true
		case actCSIFinal:
			if !s.private {
				s.dispatch(c)
			}
		case actReread:
			continue
		}
		// actText does not come here: the fast path takes every text byte.
		i++
	}
}

// control executes a C0 control byte or DEL in the ground state.
func (s *screen) control(c byte) {
	switch c {
	case '\n':
		// Logs written through a pty have "\r\n"; logs written to a file
		// have a bare "\n", which means a new line in column 0 as well.
		s.newlines++
		s.col = 0
		s.lineFeed()
	case '\r':
		s.col = 0
	case '\b':
		if s.col > 0 {
			s.col--
		}
	case '\t':
		s.put(tab, true)
	}
	// Other controls (BEL, SO, SI, NUL, DEL ...) show nothing.
}

// escFinal executes ESC c, a two-byte sequence.
func (s *screen) escFinal(c byte) {
	switch c {
	case '7':
		s.savedRow, s.savedCol = s.base+s.row, s.col
	case '8':
		s.restoreCursor()
	case 'M': // reverse index
		if s.row > 0 {
			s.row--
		}
	case 'D': // index
		s.lineFeed()
	case 'E': // next line
		s.col = 0
		s.lineFeed()
	case 'c': // full reset
		s.separate()
	}
}

// csiParam takes a parameter byte of a CSI sequence: a digit, or a
// separator that starts the next parameter.
func (s *screen) csiParam(c byte) {
	if s.nparams == 0 {
		s.nparams = 1
	}
	if c == ';' || c == ':' {
		if s.nparams < maxCSIParams {
			s.params[s.nparams] = 0
			s.nparams++
		}
		return
	}
	if p := &s.params[s.nparams-1]; *p < maxScreenCols {
		*p = *p*10 + int(c-'0')
	}
}

// param returns parameter i, or def when it is missing or zero.
func (s *screen) param(i, def int) int {
	if i < s.nparams && s.params[i] != 0 {
		return s.params[i]
	}
	return def
}

// dispatch executes the CSI sequence ending in final.
func (s *screen) dispatch(final byte) {
	n := s.param(0, 1)
	switch final {
	case 'A': // cursor up
		s.row = max(0, s.row-n)
	case 'B', 'e': // cursor down
		s.row = min(len(s.lines)-1, s.row+n)
	case 'C', 'a': // cursor forward
		s.col = min(maxScreenCols, s.col+n)
	case 'D': // cursor back; ESC[999D is "column 0"
		s.col = max(0, s.col-n)
	case 'E': // next line
		s.row = min(len(s.lines)-1, s.row+n)
		s.col = 0
	case 'F': // previous line
		s.row = max(0, s.row-n)
		s.col = 0
	case 'G', '`': // column
		s.col = min(maxScreenCols, n-1)
	case 'H', 'f': // position
		s.moveTo(s.param(0, 1), min(maxScreenCols, s.param(1, 1)-1))
	case 'd': // row
		s.moveTo(n, s.col)
	case 'J':
		switch s.param(0, 0) {
		case 0: // erase below
			s.eraseRight()
			s.free = append(s.free, s.lines[s.row+1:]...)
			s.lines = s.lines[:s.row+1]
		case 1: // erase above: earlier lines are history, keep them
			s.eraseLeft()
		default: // 2, 3: whole screen and scrollback
			s.separate()
		}
	case 'K':
		switch s.param(0, 0) {
		case 0:
			s.eraseRight()
		case 1:
			s.eraseLeft()
		default:
			s.lines[s.row].reset()
		}
	case 'X': // erase characters
		l := s.lines[s.row]
		if end := min(l.cols, s.col+n); s.col < end {
			s.splice(l, s.col, end, s.spaceRun(end-s.col), end-s.col)
		}
	case 'P': // delete characters
		l := s.lines[s.row]
		if end := min(l.cols, s.col+n); s.col < end {
			s.splice(l, s.col, end, nil, 0)
		}
	case '@': // insert blanks
		l := s.lines[s.row]
		if s.col < l.cols {
			n = min(n, maxScreenCols-l.cols)
			s.splice(l, s.col, s.col, s.spaceRun(n), n)
		}
	case 'm':
		if s.colors {
			seq := []byte("\x1b[")
			for i := range s.nparams {
				if i > 0 {
					seq = append(seq, ';')
				}
				seq = strconv.AppendInt(seq, int64(s.params[i]), 10)
			}
			s.mark(string(append(seq, 'm')))
		}
	case 's':
		s.savedRow, s.savedCol = s.base+s.row, s.col
	case 'u':
		s.restoreCursor()
	}
	// Everything else (colors, modes, scrolling regions, reports) shows
	// nothing by itself.
}

// moveTo handles an absolute cursor position. The emulator does not know
// where the top of the screen is in the history, so "home" is treated as
// the start of a new screen (a separator, like a clear) and any other row
// as a fresh line below everything drawn so far; a status line drawn
// there is overwritten by what the program prints next.
func (s *screen) moveTo(row, col int) {
	if row <= 1 {
		s.separate()
	} else {
		s.lines = append(s.lines, s.newLine())
		s.row = len(s.lines) - 1
		s.trimWindow()
	}
	s.col = col
}

func (s *screen) restoreCursor() {
	s.row = min(max(0, s.savedRow-s.base), len(s.lines)-1)
	s.col = s.savedCol
}

// separate handles a full clear: what was shown stays in the history and
// drawing starts over on a fresh line.
func (s *screen) separate() {
	if len(s.lines) == 1 && len(s.lines[0].b) == 0 {
		return // already a fresh screen
	}
	s.flush(len(s.lines))
	s.lines = append(s.lines[:0], s.newLine())
	s.row = 0
	if s.cleared != nil {
		s.cleared()
	}
}

// lineFeed moves the cursor down a line, opening a new one at the bottom.
func (s *screen) lineFeed() {
	s.row++
	if s.row == len(s.lines) {
		s.lines = append(s.lines, s.newLine())
	}
	s.trimWindow()
}

// trimWindow emits the lines the cursor can no longer reach. It lets the
// window grow to twice its reach and then emits half, so the copy is paid
// once per screenWindow lines.
func (s *screen) trimWindow() {
	if s.row >= 2*screenWindow {
		s.flush(screenWindow)
	}
}

// flush emits the first n lines of the window and drops them.
func (s *screen) flush(n int) {
	for _, l := range s.lines[:n] {
		b := l.b
		if len(l.marks) > 0 {
			b = s.withColors(l)
		}
		if l.clipped {
			s.clip = append(append(s.clip[:0], b...), TruncatedMarker...)
			b = s.clip
		}
		s.emit(b)
		s.free = append(s.free, l)
	}
	k := copy(s.lines, s.lines[n:])
	clear(s.lines[k:])
	s.lines = s.lines[:k]
	s.row = max(0, s.row-n)
	s.base += n
	// Emptying the window is left to the callers (separate, finish),
	// which start the next line themselves.
}

// put writes printable text at the cursor.
func (s *screen) put(t []byte, ascii bool) {
	if s.col >= maxScreenCols {
		s.lines[s.row].clipped = s.lines[s.row].clipped || len(t) > 0
		return
	}
	k := len(t)
	if !ascii {
		if !utf8.Valid(t) {
			s.fix = appendValidUTF8(s.fix[:0], t)
			t = s.fix
		}
		k = runeCount(t)
	}
	l := s.lines[s.row]
	if s.col+k > maxScreenCols {
		k = maxScreenCols - s.col
		t = t[:runeOffset(t, k)]
		l.clipped = true
	}
	if s.col == l.cols { // the common case: appending
		l.b = append(l.b, t...)
		l.cols += k
		l.ascii = l.ascii && ascii
	} else {
		if !ascii {
			l.ascii = false
		}
		s.splice(l, s.col, s.col+k, t, k)
	}
	s.col += k
}

// splice replaces columns [from, to) of l with repl, which is rcols runes
// wide, padding with spaces when from is past the end of the line.
func (s *screen) splice(l *screenLine, from, to int, repl []byte, rcols int) {
	if from > l.cols {
		pad := from - l.cols
		l.b = append(l.b, s.spaceRun(pad)...)
		l.cols = from
	}
	off1 := l.offset(from)
	off2 := l.offset(to)
	rest := max(0, l.cols-to)
	if off2-off1 == len(repl) {
		copy(l.b[off1:], repl)
	} else {
		s.tail = append(s.tail[:0], l.b[off2:]...)
		l.b = append(append(l.b[:off1], repl...), s.tail...)
	}
	l.cols = from + rcols + rest
	if l.cols > maxScreenCols {
		l.b = l.b[:l.offset(maxScreenCols)]
		l.cols = maxScreenCols
		l.clipped = true
	}
}

func (s *screen) eraseRight() {
	l := s.lines[s.row]
	l.clipped = false // What was dropped lay right of the cursor too.
	if s.col < l.cols {
		l.b = l.b[:l.offset(s.col)]
		l.cols = s.col
		l.marks = slices.DeleteFunc(l.marks, func(m sgrMark) bool { return m.col > s.col })
	}
}

// mark keeps colour sequence seq at the cursor.
func (s *screen) mark(seq string) {
	l := s.lines[s.row]
	l.marks = append(l.marks, sgrMark{col: s.col, seq: seq})
}

// withColors returns l's text with its colour sequences where they were
// written, in a scratch buffer.
func (s *screen) withColors(l *screenLine) []byte {
	slices.SortStableFunc(l.marks, func(a, b sgrMark) int { return a.col - b.col })
	out, prev := s.colored[:0], 0
	for _, m := range l.marks {
		off := l.offset(m.col)
		out = append(append(out, l.b[prev:off]...), m.seq...)
		prev = off
	}
	s.colored = append(out, l.b[prev:]...)
	return s.colored
}

func (s *screen) eraseLeft() {
	l := s.lines[s.row]
	if n := min(s.col+1, l.cols); n > 0 {
		s.splice(l, 0, n, s.spaceRun(n), n)
	}
}

// spaceRun returns n spaces from a reused buffer.
func (s *screen) spaceRun(n int) []byte {
	for len(s.spaces) < n {
		s.spaces = append(s.spaces, ' ')
	}
	return s.spaces[:n]
}

// runeCount counts the runes of valid UTF-8 b: the bytes that are not
// continuation bytes. (utf8.RuneCount allocates for non-ASCII input.)
func runeCount(b []byte) int {
	n := 0
	for _, c := range b {
		if c&0xC0 != 0x80 {
			n++
		}
	}
	return n
}

// runeOffset returns the byte offset of the n-th rune of valid UTF-8 t.
func runeOffset(t []byte, n int) int {
	off := 0
	for ; n > 0 && off < len(t); n-- {
		_, sz := utf8.DecodeRune(t[off:])
		off += sz
	}
	return off
}

// appendValidUTF8 appends b to dst with each invalid byte replaced by U+FFFD,
// one per byte so a terminal's column count is kept.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}
