package capture

import (
	"bytes"
	"strconv"
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
// a colon, or a repeat counter "x3".
func volatileNumber(line []byte, i, j int) bool {
	if line[i] == 'x' && j-i > 1 {
		return true
	}
	before := i > 1 && (line[i-1] == '.' || line[i-1] == ':') && isDigit(line[i-2])
	after := j+1 < len(line) && (line[j] == '.' || line[j] == ':') && isDigit(line[j+1])
	return before || after
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

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
	case bytes.HasPrefix(line, []byte("[... ")):
		n, ok := leadingNumber(line[5:])
		return ok && string(line[5+n:]) == " earlier lines omitted ...]"
	}
	return false
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

// maskedLine is a line in its two masked forms: loose (all numbers
// masked) compares a line with the one just before it, strict compares
// lines a longer period apart, where plain numbers are what tells two
// test cases or requests apart.
type maskedLine struct {
	loose, strict []byte
	hl, hs        uint64
}

func (m *maskedLine) set(line []byte) {
	m.loose = maskVolatile(m.loose[:0], line, false)
	m.strict = maskVolatile(m.strict[:0], line, true)
	m.hl, m.hs = hashBytes(m.loose), hashBytes(m.strict)
}

func (m *maskedLine) copyFrom(o *maskedLine) {
	m.loose = append(m.loose[:0], o.loose...)
	m.strict = append(m.strict[:0], o.strict...)
	m.hl, m.hs = o.hl, o.hs
}

// collapser folds runs of similar lines: a line is dropped when it is
// similar to the line one period above it and the whole block of period
// lines has repeated. Only emitted lines are compared against, so every
// dropped line is similar to a line the reader still sees. A marker line
// ends a run and forgets the history, so cleaning again is stable.
type collapser struct {
	emit func([]byte)

	hist  [collapsePeriod]maskedLine // the last emitted lines, a ring
	nhist int                        // valid entries in hist
	next  int                        // index in hist for the next line

	period    int          // period of the run in progress; 0 when none
	pos       int          // lines of the run matched so far
	committed bool         // a whole block repeated: matched lines are dropped
	held      [][]byte     // lines matched before the block completed
	heldMask  []maskedLine // their masked forms
	dropped   int          // lines dropped in the committed run
	total     int          // lines dropped overall

	cur maskedLine // the line being added
}

func (c *collapser) add(line []byte) {
	if isMarker(line) {
		c.endRun()
		c.nhist = 0
		c.emit(line)
		return
	}
	c.cur.set(line)
	if c.period > 0 {
		if c.similar(c.period-c.pos%c.period, c.period) {
			c.pos++
			switch {
			case c.committed:
				c.dropped++
			case c.pos == c.period:
				c.committed = true
				c.dropped = c.pos
				c.held = c.held[:0]
				c.heldMask = c.heldMask[:0]
			default:
				c.hold(line)
			}
			return
		}
		c.endRun()
	}
	for p := 1; p <= c.nhist; p++ {
		if c.similar(p, p) {
			c.period, c.pos = p, 1
			if p == 1 {
				c.committed, c.dropped = true, 1
			} else {
				c.hold(line)
			}
			return
		}
	}
	c.push(line, &c.cur)
}

// similar reports whether the current line is similar to the emitted line
// back lines ago, for a run of the given period.
func (c *collapser) similar(back, period int) bool {
	if back > c.nhist {
		return false
	}
	e := &c.hist[(c.next-back+collapsePeriod)%collapsePeriod]
	if period == 1 {
		return e.hl == c.cur.hl && bytes.Equal(e.loose, c.cur.loose)
	}
	return e.hs == c.cur.hs && bytes.Equal(e.strict, c.cur.strict)
}

// push emits a line and remembers its masked forms.
func (c *collapser) push(line []byte, m *maskedLine) {
	c.emit(line)
	c.hist[c.next].copyFrom(m)
	c.next = (c.next + 1) % collapsePeriod
	c.nhist = min(c.nhist+1, collapsePeriod)
}

// hold keeps a line of a block that has not repeated whole yet.
func (c *collapser) hold(line []byte) {
	n := len(c.held)
	if n < cap(c.held) {
		c.held = c.held[:n+1]
		c.heldMask = c.heldMask[:n+1]
	} else {
		c.held = append(c.held, nil)
		c.heldMask = append(c.heldMask, maskedLine{})
	}
	c.held[n] = append(c.held[n][:0], line...)
	c.heldMask[n].copyFrom(&c.cur)
}

// endRun ends the run in progress: a committed run leaves its marker (which
// also forgets the history, as a marker read back would), held lines are
// emitted after all.
func (c *collapser) endRun() {
	if c.committed {
		c.total += c.dropped
		c.emit([]byte(CollapsedMarker(c.dropped)))
		c.nhist = 0
	} else {
		for i, l := range c.held {
			c.push(l, &c.heldMask[i])
		}
	}
	c.held = c.held[:0]
	c.heldMask = c.heldMask[:0]
	c.period, c.pos, c.committed, c.dropped = 0, 0, false, 0
}

// hashBytes is FNV-1a, a cheap first check before comparing masks.
func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
