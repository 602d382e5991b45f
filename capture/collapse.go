package capture

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Repeated lines (request logs, retry loops, the same warning per file)
// are collapsed into their first occurrence and a count. Two lines are the
// same when they are equal after masking volatile tokens: numbers, hex ids,
// and with them timestamps, durations, sizes and counters, which are made
// of numbers. Words are never masked, so two different messages never
// collapse into one.

// maskVolatile appends line to dst with volatile tokens replaced by '#':
// hex ids (a word of at least six hex digits with a digit in it, or 0x
// followed by hex digits) and numbers. With strict, only the numbers that
// are volatile by their form are masked (decimals such as durations, parts
// of times and line:column pairs next to a colon, "(x3)" repeat counters)
// and plain integers, which often carry meaning ("want 29"), are kept.
func maskVolatile(dst, line []byte, strict bool) []byte {
	for i := 0; i < len(line); {
		c := line[i]
		if !isAlnum(c) {
			dst = append(dst, c)
			i++
			continue
		}
		j, digits, hex := i, false, true
		for j < len(line) && isAlnum(line[j]) {
			d := line[j]
			digits = digits || isDigit(d)
			hex = hex && isHexDigit(d)
			j++
		}
		word := line[i:j]
		switch {
		case !digits:
			dst = append(dst, word...)
		case hex && len(word) >= 6, isHexLiteral(word):
			dst = append(dst, '#')
		case strict && !volatileNumber(line, i, j):
			dst = append(dst, word...)
		default:
			for k := 0; k < len(word); {
				if isDigit(word[k]) {
					for k < len(word) && isDigit(word[k]) {
						k++
					}
					dst = append(dst, '#')
					continue
				}
				dst = append(dst, word[k])
				k++
			}
		}
		i = j
	}
	return dst
}

// volatileNumber reports whether the word line[i:j] is a number that
// changes from one run to the next by its form: part of a decimal, next to
// a colon, a repeat counter "x3", or a duration or size by its unit
// ("12ms", "999 ms", "4 KB").
func volatileNumber(line []byte, i, j int) bool {
	if line[i] == 'x' && j-i > 1 {
		return true
	}
	before := i > 1 && (line[i-1] == '.' || line[i-1] == ':') && isDigit(line[i-2])
	after := j+1 < len(line) && (line[j] == '.' || line[j] == ':') && isDigit(line[j+1])
	if before || after {
		return true
	}
	k := i
	for k < j && isDigit(line[k]) {
		k++
	}
	if k == i {
		return false // Not a number: "v2", "x86".
	}
	if k < j {
		return volatileUnits[string(line[k:j])] // "12ms"
	}
	if j+1 < len(line) && line[j] == ' ' {
		e := j + 1
		for e < len(line) && isAlnum(line[e]) {
			e++
		}
		return volatileUnits[string(line[j+1:e])] // "999 ms"
	}
	return false
}

// volatileUnits are the units after which a number is a duration or a
// size: a measure of this run, not what tells two messages apart.
var volatileUnits = map[string]bool{
	"ns": true, "us": true, "ms": true, "s": true, "sec": true, "secs": true, "second": true, "seconds": true,
	"m": true, "min": true, "mins": true, "minutes": true, "h": true,
	"B": true, "b": true, "bytes": true, "kB": true, "KB": true, "KiB": true, "MB": true, "MiB": true, "GB": true, "GiB": true,
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return alnum[c] }

var alnum = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	return t
}()

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isHexLiteral reports whether word is 0x followed by hex digits.
func isHexLiteral(word []byte) bool {
	if len(word) < 3 || word[0] != '0' || (word[1] != 'x' && word[1] != 'X') {
		return false
	}
	for _, c := range word[2:] {
		if !isHexDigit(c) {
			return false
		}
	}
	return true
}

// Markers the pipeline writes itself. They never collapse, so cleaning a
// cleaned output again changes nothing.
const (
	// TruncatedMarker ends a line cut at Options.MaxLineLen.
	TruncatedMarker = "...[truncated]"
	// ContextSeparator separates non-adjacent groups of Filter matches.
	ContextSeparator = "--"
)

// CollapsedMarker is the line that follows a collapsed run's first line.
func CollapsedMarker(n int) string { return "... " + strconv.Itoa(n) + " similar lines collapsed" }

// OmittedMarker is the first line of an output capped at Options.MaxLines.
func OmittedMarker(n int) string { return "[... " + strconv.Itoa(n) + " earlier lines omitted ...]" }

// isMarker reports whether line is one of the pipeline's own marker lines.
func isMarker(line []byte) bool {
	switch {
	case len(line) == 2:
		return line[0] == '-' && line[1] == '-'
	case bytes.HasPrefix(line, []byte("... ")):
		n, ok := leadingNumber(line[4:])
		return ok && string(line[4+n:]) == " similar lines collapsed"
	case bytes.HasPrefix(line, []byte("[... same ")):
		return bytes.HasSuffix(line, []byte(" time ...]"))
	case bytes.HasPrefix(line, []byte("[... ")):
		n, ok := leadingNumber(line[5:])
		return ok && string(line[5+n:]) == " earlier lines omitted ...]"
	}
	return false
}

// minRepeatBlock is the shortest block that referRepeats replaces: a
// shorter one is no longer than its reference.
const minRepeatBlock = 3

// referRepeats replaces each block of at least minRepeatBlock lines that
// equals a block shown earlier in lines by one reference line, "[... same
// 28 lines as above, 4th time ...]", however long the block and whatever
// lies between the two: a warning block re-printed on every request, a
// stack trace per retry. Adjacent repeats of short blocks are the
// collapser's; this catches the rest in what a read returns.
func referRepeats(lines []string) []string {
	if len(lines) < 2*minRepeatBlock {
		return lines
	}
	at := map[string][]int{}  // line -> earlier positions in lines
	times := map[string]int{} // block text -> times seen
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); {
		bestLen, bestFrom := 0, -1
		for _, j := range at[lines[i]] {
			n := 0
			for i+n < len(lines) && j+n < i && lines[j+n] == lines[i+n] && !isMarker([]byte(lines[i+n])) {
				n++
			}
			if n > bestLen {
				bestLen, bestFrom = n, j
			}
		}
		if bestLen >= minRepeatBlock {
			key := strings.Join(lines[bestFrom:bestFrom+bestLen], "\n")
			if times[key] == 0 {
				times[key] = 1
			}
			times[key]++
			out = append(out, fmt.Sprintf("[... same %d lines as above, %s time ...]", bestLen, ordinal(times[key])))
			i += bestLen
			continue
		}
		at[lines[i]] = append(at[lines[i]], i)
		out = append(out, lines[i])
		i++
	}
	return out
}

// leadingNumber returns the length of the run of digits b starts with.
func leadingNumber(b []byte) (int, bool) {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	return n, n > 0
}

// collapsePeriod is the longest block of lines whose repeats collapse. A
// period of one is the plain case (the same line again); longer periods
// catch a request loop or a retried stack trace printed over and over.
const collapsePeriod = 16

// maskedLine is a line with its masked forms: loose (all numbers masked)
// compares a line with the one just before it, strict compares lines a
// longer period apart, where plain numbers are what tells two test cases
// or requests apart. Lines that differ loosely differ strictly too, so
// the strict form is only computed when the loose forms are equal.
type maskedLine struct {
	text      []byte
	ident     []byte // diagnostic identity: locations and error codes, unmasked
	hasIdent  bool
	loose     []byte
	strict    []byte
	hasStrict bool
}

func (m *maskedLine) set(line []byte) {
	m.text = append(m.text[:0], line...)
	m.loose = maskVolatile(m.loose[:0], line, false)
	m.hasStrict, m.hasIdent = false, false
}

// diagIdentity appends what tells one diagnostic from another although
// only numbers differ: file locations ("main.go:80:5", "x.py:12") and
// error codes ("E0308", "TS2304"). Two lines with different identities
// never collapse: "main.go:80:5: undefined: err" and "main.go:81:35:
// undefined: err" are two errors to fix.
func diagIdentity(dst, line []byte) []byte {
	for start, i := 0, 0; i <= len(line); i++ {
		if i < len(line) && !identSep[line[i]] {
			continue
		}
		// Only a word with a colon or a capital can be a location or a code.
		if w := line[start:i]; len(w) >= 3 && (bytes.IndexByte(w, ':') > 0 || w[0] >= 'A' && w[0] <= 'Z') && (isLocation(w) || isErrorCode(w)) {
			dst = append(append(dst, w...), ' ')
		}
		start = i + 1
	}
	return dst
}

// identSep marks the bytes that end a word for diagIdentity.
var identSep = func() (t [256]bool) {
	for _, c := range []byte(" \t()'\"<>,;[]") {
		t[c] = true
	}
	return t
}()

// isLocation reports whether w looks like path:line[:col].
func isLocation(w []byte) bool {
	c := bytes.IndexByte(w, ':')
	if c <= 0 || c+1 >= len(w) || !isDigit(w[c+1]) {
		return false
	}
	return bytes.ContainsAny(w[:c], "./")
}

// isErrorCode reports whether w is a compiler's error code: capitals then
// three to five digits.
func isErrorCode(w []byte) bool {
	w = bytes.TrimRight(w, ":.")
	i := 0
	for i < len(w) && w[i] >= 'A' && w[i] <= 'Z' {
		i++
	}
	d := len(w) - i
	if i == 0 || i > 4 || d < 3 || d > 5 {
		return false
	}
	for _, c := range w[i:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func (m *maskedLine) ensureStrict() {
	if !m.hasStrict {
		m.strict = maskVolatile(m.strict[:0], m.text, true)
		m.hasStrict = true
	}
}

// similar compares two lines for a repeat of the given period.
func (m *maskedLine) similar(o *maskedLine, period int) bool {
	if !bytes.Equal(m.loose, o.loose) {
		return false
	}
	for _, x := range []*maskedLine{m, o} {
		if !x.hasIdent {
			x.ident, x.hasIdent = diagIdentity(x.ident[:0], x.text), true
		}
	}
	if !bytes.Equal(m.ident, o.ident) {
		return false
	}
	if period == 1 {
		return true
	}
	m.ensureStrict()
	o.ensureStrict()
	return bytes.Equal(m.strict, o.strict)
}

// histSize is how many emitted lines the collapser remembers: enough to
// see a block of collapsePeriod lines repeated once.
const histSize = 2 * collapsePeriod

// collapser folds repeats. A repeat is a block of p <= collapsePeriod lines
// followed by lines similar to it (compared with the loose mask for p = 1
// and the strict mask otherwise); once the block has repeated whole, the
// repeat is dropped, and so is everything that continues it, until a line
// breaks the pattern. Then the run is shown as its block, a
// CollapsedMarker and the run's last line, which is its latest state
// ("Compiled 20/20", the last retry); the marker counts the lines between.
// A run is collapsed only when that saves space: the marker must stand for
// at least two lines, and for more characters than its own. A shorter run
// is shown whole. Every dropped line is similar to a line the reader
// still sees.
//
// The newest collapsePeriod-1 lines are held back so that a repeat can be
// removed once it is complete. The history restarts after a marker, and
// after a run shown whole, as it does when the output is read back, so
// cleaning the output again changes nothing.
type collapser struct {
	emit func([]byte)

	hist    [histSize]maskedLine // lines since the last marker, a ring
	n       int                  // valid entries in hist
	next    int                  // slot for the next line
	pending int                  // newest entries not emitted yet

	period  int // period of the repeat being dropped; 0 when none
	pos     int // lines of the repeat so far
	dropped int // lines dropped in it
	total   int // lines hidden by markers overall

	// The lines of the run being dropped: all of them (held) until it is
	// certain to be collapsed, and its last one.
	held     [][]byte
	heldN    int
	holding  bool
	last     []byte
	runBytes int        // bytes of the dropped lines, newlines included
	cur      maskedLine // the line being added
	spare    maskedLine // the run's last line on its way into the history
	marker   []byte     // scratch for CollapsedMarker
}

// at returns the entry back lines before the next slot (1 is the newest).
func (c *collapser) at(back int) *maskedLine {
	return &c.hist[(c.next-back+histSize)%histSize]
}

func (c *collapser) add(line []byte) {
	if isMarker(line) {
		c.endRun()
		c.flushPending()
		c.n = 0
		c.emit(line)
		return
	}
	c.cur.set(line)
	if c.period > 0 {
		if c.cur.similar(c.at(c.period-c.pos%c.period), c.period) {
			c.pos++
			c.drop(line)
			return
		}
		c.endRun()
	}
	for p := 1; p <= collapsePeriod && 2*p-1 <= c.n; p++ {
		if c.repeatEnds(p) {
			// The newest p-1 lines and this one repeat the block before
			// them: take them back (they are still held) and drop them.
			c.heldN, c.holding, c.runBytes = 0, true, 0
			for k := p - 1; k >= 1; k-- {
				c.drop(c.at(k).text)
			}
			c.drop(line)
			c.n -= p - 1
			c.pending -= p - 1
			c.next = (c.next - (p - 1) + histSize) % histSize
			c.period, c.pos = p, p
			return
		}
	}
	c.push(&c.cur)
}

// push adds m to the history (taking its buffers), emitting the oldest held line when
// collapsePeriod lines are held.
func (c *collapser) push(m *maskedLine) {
	c.hist[c.next], *m = *m, c.hist[c.next] // swap: buffers are reused
	c.next = (c.next + 1) % histSize
	c.n = min(c.n+1, histSize)
	c.pending++
	if c.pending >= collapsePeriod {
		c.emit(c.hist[(c.next-c.pending+histSize)%histSize].text)
		c.pending--
	}
}

// drop takes a line of the run being dropped.
func (c *collapser) drop(line []byte) {
	c.dropped++
	c.runBytes += len(line) + 1
	c.last = append(c.last[:0], line...)
	if !c.holding {
		return
	}
	if c.saves() {
		c.holding = false // Collapsed whatever follows: no need to keep them.
		return
	}
	if c.heldN == len(c.held) {
		c.held = append(c.held, nil)
	}
	c.held[c.heldN] = append(c.held[c.heldN][:0], line...)
	c.heldN++
}

// saves reports whether showing the run as a marker and its last line
// is shorter than showing it whole. Once true it stays true as the run
// grows, since each line adds at least two bytes and the marker grows by
// a digit now and then.
func (c *collapser) saves() bool {
	hidden := c.dropped - 1
	return hidden >= 2 && c.runBytes-len(c.last)-1 > len(CollapsedMarker(hidden))+1
}

// repeatEnds reports whether the newest p-1 lines and the current line are
// similar to the p lines before them.
func (c *collapser) repeatEnds(p int) bool {
	if !c.cur.similar(c.at(p), p) {
		return false
	}
	for k := 1; k < p; k++ {
		if !c.at(k).similar(c.at(k+p), p) {
			return false
		}
	}
	return true
}

// flushPending emits the held lines.
func (c *collapser) flushPending() {
	for ; c.pending > 0; c.pending-- {
		c.emit(c.hist[(c.next-c.pending+histSize)%histSize].text)
	}
}

// endRun ends a repeat being dropped: the block is emitted, then either
// the marker and the run's last line, which start a new history as they
// would when read back, or, when a marker would save nothing, the run
// whole.
func (c *collapser) endRun() {
	if c.period == 0 {
		return
	}
	c.flushPending()
	c.n = 0
	if c.saves() {
		hidden := c.dropped - 1
		c.marker = append(strconv.AppendInt(append(c.marker[:0], "... "...), int64(hidden), 10), " similar lines collapsed"...)
		c.emit(c.marker)
		c.total += hidden
		// The last line opens the new history, as it does read back.
		c.spare.set(c.last)
		c.push(&c.spare)
	} else {
		for _, l := range c.held[:c.heldN] {
			c.emit(l)
		}
	}
	c.period, c.pos, c.dropped, c.heldN, c.runBytes = 0, 0, 0, 0, 0
}

// finish ends the input.
func (c *collapser) finish() {
	c.endRun()
	c.flushPending()
}
