package capture

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Cleaning turns what a program wrote to its terminal into the few lines an
// agent should read. A Pipeline is a stream: bytes go in through Write in
// any chunking and it keeps only what its steps need (the terminal window,
// the previous line for collapsing, the context lines before a match and
// the newest MaxLines lines), so memory stays flat however long the log.
//
// The steps, in order:
//
//  1. terminal emulation: the final state of lines redrawn with \r,
//     backspaces, erase and cursor movement (see screen.go); screen clears
//     separate rather than delete;
//  2. escape sequences and control characters are dropped (the emulator
//     consumes them) and invalid UTF-8 becomes U+FFFD;
//  3. node_modules paths (pnpm store paths included) and paths under
//     Options.Cwd are shortened (see paths.go);
//  4. trailing whitespace is trimmed, blank lines dropped and lines longer
//     than their budget cut to it plus TruncatedMarker; the budget is
//     MaxLineLen runes, half as much again for a line that reports a
//     problem (see Pipeline.truncate);
//  5. Exclude, then Filter with Context, both on the cleaned text;
//  6. repeats collapse: a line similar to the one before it, or a block of
//     up to 16 lines repeated, is kept once and followed by
//     CollapsedMarker and the run's last line, when that saves space (see
//     collapse.go);
//  7. only the newest MaxLines lines are kept: when lines are omitted the
//     first line is OmittedMarker and counts toward MaxLines, so the output
//     never has more than MaxLines lines.
//
// Raw skips steps 1-4 and 6: lines are split on \n (a trailing \r
// removed) and only made valid UTF-8.
//
// Cleaning is idempotent: cleaning the joined output again with the same
// options and no filter gives the same lines.

// Defaults for the zero Options values.
const (
	DefaultMaxLineLen = 150
	DefaultMaxLines   = 80
	// MaxLineLenLimit bounds Options.MaxLineLen: the terminal emulator's
	// widest line.
	MaxLineLenLimit = maxScreenCols

	// maxRawLine bounds a line in Raw mode, which otherwise keeps lines
	// whole, so that a log without newlines cannot exhaust memory.
	maxRawLine = 1 << 20
)

// Options control cleaning; zero values mean the defaults. Errors about
// them use the bg_output parameter names (filter, exclude, context,
// max_lines, max_line_len, cwd).
type Options struct {
	Raw        bool   // skip terminal semantics, escape stripping, path shortening, truncation, blank-line dropping and collapsing (filter/exclude/cap still apply)
	MaxLineLen int    // default 150, at most 65536
	Cwd        string // absolute paths inside this directory become relative
	Filter     string // regex, case-insensitive; only matching lines (after cleaning)
	Exclude    string // regex, case-insensitive; applied first
	Context    int    // lines of context around each filter match, like grep -C
	MaxLines   int    // default 80; keep the newest, first line "[... N earlier lines omitted ...]"
	// Digest keeps, instead of the newest MaxLines lines, the lines of
	// the whole input a debugger needs, within MaxLines (see digest.go).
	// It replaces step 6's collapsing with its own repeat handling.
	Digest bool
}

// Stats counts what a Pipeline did with its lines.
type Stats struct {
	LinesIn        int // lines written: newline-terminated, plus a trailing partial one
	LinesBlank     int // blank lines dropped after terminal emulation
	LinesExcluded  int // lines dropped by Exclude
	LinesMatched   int // lines matching Filter (0 without a filter)
	LinesCollapsed int // similar lines folded into a CollapsedMarker
	LinesFolded    int // frame lines of dependencies and runtimes folded into a FoldedMarker, and rule lines dropped
	LinesOmitted   int // lines dropped by the MaxLines cap or the MaxAnswerBytes bound
}

// Pipeline cleans one stream. It is not safe for concurrent use.
type Pipeline struct {
	opt     Options
	screen  *screen // nil when Raw
	raw     []byte  // Raw mode: the line being read
	rawLong bool    // Raw mode: the line being read was cut at maxRawLine
	paths   pathShortener
	exclude *matcher
	filter  *matcher
	grep    grepContext
	coll    collapser
	tail    tailRing
	digest  *digest      // nil unless Options.Digest
	frames  *frameFolder // nil when Raw
	stats   Stats
	closed  bool
	written bool
	last    byte // last byte written, to count a trailing partial line

	pathBuf []byte // scratch for path shortening
	lineBuf []byte // scratch for truncation and UTF-8 repair
}

// NewPipeline validates o and returns a pipeline ready for Write.
func NewPipeline(o Options) (*Pipeline, error) {
	for _, n := range []struct {
		name string
		v    int
	}{{"max_line_len", o.MaxLineLen}, {"context", o.Context}, {"max_lines", o.MaxLines}} {
		if n.v < 0 {
			return nil, fmt.Errorf("%s: must not be negative, got %d", n.name, n.v)
		}
	}
	if o.MaxLineLen > MaxLineLenLimit {
		return nil, fmt.Errorf("max_line_len: must be at most %d, got %d", MaxLineLenLimit, o.MaxLineLen)
	}
	if o.MaxLineLen == 0 {
		o.MaxLineLen = DefaultMaxLineLen
	}
	if o.MaxLines == 0 {
		o.MaxLines = DefaultMaxLines
	}
	p := &Pipeline{opt: o}
	var err error
	if o.Exclude != "" {
		if p.exclude, err = newMatcher("exclude", o.Exclude); err != nil {
			return nil, err
		}
	}
	if o.Filter != "" {
		if p.filter, err = newMatcher("filter", o.Filter); err != nil {
			return nil, err
		}
	}
	if p.paths, err = newPathShortener(o.Cwd); err != nil {
		return nil, err
	}
	p.tail.max = o.MaxLines
	p.tail.maxBytes = MaxAnswerBytes - markerRoom
	p.grep.n = o.Context
	p.grep.before.max = max(o.Context, assocBefore)
	p.grep.sep = []byte(ContextSeparator)
	p.grep.emit = p.matched
	p.coll.emit = func(l []byte) { p.tail.add(l) }
	if o.Digest {
		p.digest = &digest{max: o.MaxLines}
	}
	if !o.Raw {
		p.screen = newScreen(p.line)
		p.frames = newFrameFolder(p.folded)
	}
	return p, nil
}

// Clean is NewPipeline, Write and Close in one call.
func Clean(raw []byte, o Options) ([]string, error) {
	p, err := NewPipeline(o)
	if err != nil {
		return nil, err
	}
	p.Write(raw)
	return p.Close(), nil
}

// Write feeds raw terminal output. It never fails; after Close it ignores b.
func (p *Pipeline) Write(b []byte) (int, error) {
	if p.closed {
		return len(b), nil
	}
	if len(b) > 0 {
		p.last, p.written = b[len(b)-1], true
	}
	if p.screen != nil {
		p.screen.write(b)
		return len(b), nil
	}
	for rest := b; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			p.appendRaw(rest)
			break
		}
		p.appendRaw(rest[:i])
		p.endRaw()
		rest = rest[i+1:]
	}
	return len(b), nil
}

// appendRaw adds part of a Raw line, cutting it at maxRawLine bytes.
func (p *Pipeline) appendRaw(b []byte) {
	room := maxRawLine - len(TruncatedMarker) - len(p.raw)
	if len(b) > room {
		b = b[:max(0, room)]
		p.rawLong = true
	}
	p.raw = append(p.raw, b...)
}

func (p *Pipeline) endRaw() {
	l := bytes.TrimSuffix(p.raw, []byte("\r"))
	if p.rawLong {
		l = append(l, TruncatedMarker...)
	}
	p.stats.LinesIn++
	p.line(l)
	p.raw = p.raw[:0]
	p.rawLong = false
}

// Close ends the input and returns the cleaned lines. Later calls return
// nil.
func (p *Pipeline) Close() []string {
	if p.closed {
		return nil
	}
	if p.screen != nil {
		p.screen.finish()
		p.stats.LinesIn = p.screen.newlines
		if p.written && p.last != '\n' {
			p.stats.LinesIn++ // a trailing line without newline
		}
	} else if len(p.raw) > 0 || p.rawLong {
		p.endRaw()
	}
	if p.frames != nil {
		p.frames.finish()
		p.stats.LinesFolded = p.frames.total
	}
	p.closed = true
	p.coll.finish()
	p.stats.LinesCollapsed = p.coll.total
	if p.digest != nil {
		out, omitted := p.digest.lines()
		p.stats.LinesOmitted = omitted
		return out
	}
	out, omitted := p.tail.lines()
	if !p.opt.Raw {
		out = referRepeats(out)
	}
	p.stats.LinesOmitted = omitted
	return out
}

// Stats returns the counts so far; they are complete after Close.
func (p *Pipeline) Stats() Stats { return p.stats }

// line takes one line from the terminal emulator (or the Raw splitter)
// through steps 3 to 7. l is only valid during the call.
func (p *Pipeline) line(l []byte) {
	if p.opt.Raw {
		if !utf8.Valid(l) {
			p.lineBuf = appendValidUTF8(p.lineBuf[:0], l)
			l = p.lineBuf
		}
		p.pick(l)
		return
	}
	l = trimRightSpace(dropCaretEscapes(dropTimestamp(l)))
	if len(l) == 0 {
		p.stats.LinesBlank++
		return
	}
	if s, ok := p.paths.shorten(p.pathBuf[:0], l); ok {
		p.pathBuf = s
		l = s
	}
	p.frames.add(l)
}

// folded takes a line from the frame folder: truncation, then step 5.
func (p *Pipeline) folded(l []byte) {
	// Bytes >= runes: only a line this long can be too long. The
	// pipeline's own markers are never cut, so they read back as
	// markers.
	if len(l) > p.opt.MaxLineLen && !isMarker(l) {
		l = p.truncate(l)
	}
	p.pick(l)
}

// pick is step 5: exclude, then filter with context.
func (p *Pipeline) pick(l []byte) {
	if p.exclude != nil && p.exclude.match(l) {
		p.stats.LinesExcluded++
		return
	}
	if p.filter == nil {
		p.matched(l)
		return
	}
	isMatch := p.filter.match(l)
	if isMatch {
		p.stats.LinesMatched++
	}
	p.grep.add(l, isMatch)
}

// truncate cuts a line longer than its budget. The budget is MaxLineLen;
// a line cut there ends with TruncatedMarker: truncation is there for
// minified code, data dumps and progress bars. A line that reports a
// problem in its first MaxLineLen runes gets three times as much, and when
// even that is too little keeps its head and its end around
// TruncatedMarker: the end of an error often holds what went wrong.
// Deciding on the part that is always kept, and cutting to exactly the
// budget, makes cutting again a no-op.
func (p *Pipeline) truncate(l []byte) []byte {
	n := runeCount(l) // l is valid UTF-8: it comes from the screen
	limit := p.opt.MaxLineLen
	if n <= limit {
		return l // "Lines >150 chars get ...[truncated]", as the original tool: even one over.
	}
	if !hasDiagnosticWord(&p.lineBuf, l[:runeOffset(l, limit)]) {
		p.lineBuf = append(append(p.lineBuf[:0], l[:runeOffset(l, limit)]...), TruncatedMarker...)
		return p.lineBuf
	}
	limit *= 3
	const mark = " " + TruncatedMarker + " "
	if n <= limit {
		return l
	}
	head := limit * 2 / 3
	tail := limit - head - len(mark)
	// Blanks next to the mark would double its spaces.
	p.lineBuf = append(p.lineBuf[:0], bytes.TrimRight(l[:runeOffset(l, head)], " \t")...)
	p.lineBuf = append(p.lineBuf, mark...)
	p.lineBuf = append(p.lineBuf, bytes.TrimLeft(l[runeOffset(l, n-tail):], " \t")...)
	return p.lineBuf
}

// diagnosticWords mark a line that reports a problem, in lower case.
var diagnosticWords = [][]byte{[]byte("error"), []byte("warn"), []byte("fail"), []byte("panic"), []byte("exception"), []byte("fatal")}

// hasDiagnosticWord reports whether b contains a diagnostic word, ignoring
// ASCII case; scratch is reused for the lower-case copy.
func hasDiagnosticWord(scratch *[]byte, b []byte) bool {
	low := (*scratch)[:0]
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low = append(low, c)
	}
	*scratch = low
	for _, w := range diagnosticWords {
		if bytes.Contains(low, w) {
			return true
		}
	}
	return false
}

// matched takes a line that passed the filter (or its context) to the
// collapse and cap steps.
func (p *Pipeline) matched(l []byte) {
	if p.digest != nil {
		p.digest.add(l)
		return
	}
	if p.opt.Raw {
		p.tail.add(l)
	} else {
		p.coll.add(l)
	}
}

// dropTimestamp removes a leading machine timestamp, ISO 8601 in UTC with
// a T and a Z ("2026-04-22T16:27:50.8673728Z "), as CI systems and cloud
// loggers put on every line: 29 characters of noise per line for a
// diagnosis, which would push the message past the line budget.
func dropTimestamp(l []byte) []byte {
	const minLen = len("2006-01-02T15:04:05Z")
	if len(l) < minLen || l[4] != '-' || l[7] != '-' || l[10] != 'T' || l[13] != ':' || l[16] != ':' {
		return l
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(l[i]) {
			return l
		}
	}
	i := 19
	if l[i] == '.' {
		for i++; i < len(l) && isDigit(l[i]); i++ {
		}
	}
	if i+1 < len(l) && l[i] == 'Z' && l[i+1] == ' ' {
		return l[i+2:]
	}
	if i+1 == len(l) && l[i] == 'Z' {
		return l[:0]
	}
	return l
}

// dropCaretEscapes removes color codes written out in caret notation
// ("^[[31m"), as logs downloaded from CI services carry them: the terminal
// emulator only sees real escape bytes.
func dropCaretEscapes(l []byte) []byte {
	if !bytes.Contains(l, []byte("^[[")) {
		return l
	}
	out := l[:0:0]
	for i := 0; i < len(l); i++ {
		if l[i] == '^' && i+2 < len(l) && l[i+1] == '[' && l[i+2] == '[' {
			j := i + 3
			for j < len(l) && (isDigit(l[j]) || l[j] == ';' || l[j] == '?') {
				j++
			}
			if j < len(l) && (l[j] >= '@' && l[j] <= '~') {
				i = j
				continue
			}
		}
		out = append(out, l[i])
	}
	return out
}

// trimRightSpace removes trailing white space, Unicode included.
func trimRightSpace(l []byte) []byte {
	for len(l) > 0 {
		c := l[len(l)-1]
		if c == ' ' || c == '\t' {
			l = l[:len(l)-1]
			continue
		}
		if c < 0x80 {
			return l
		}
		r, n := utf8.DecodeLastRune(l)
		if !unicode.IsSpace(r) {
			return l
		}
		l = l[:len(l)-n]
	}
	return l
}

// grepContext passes on matching lines with Context lines around them and,
// when there is context, a ContextSeparator between groups that are not
// adjacent, like grep -C. A match also brings the lines that belong to it
// as the digest associates them, whatever Context: of the lines that
// continue it (indented, stack frames), those that say where (locations,
// code frames), and a location line ("server.js:10") with its code frame
// just before it, as Node prints an uncaught error.
type grepContext struct {
	n       int
	emit    func([]byte)
	sep     []byte   // ContextSeparator, converted once
	before  tailRing // up to max(n, assocBefore) lines before the next match
	after   int      // lines still to pass on after the last match
	cont    int      // continuation lines after the last match still to look at
	assoc   int      // location and code-frame lines it may still bring
	printed bool     // a group was passed on
	lastOut bool     // the last line was passed on
}

// assocBefore bounds the location and code-frame lines a match brings from
// before it (the location, the code line, the caret line), assocAfter
// those it brings from the lines that continue it.
const (
	assocBefore = 5
	assocAfter  = 6
)

func (g *grepContext) add(l []byte, isMatch bool) {
	if isMatch {
		keep := min(g.n, g.before.len())
		keep = max(keep, g.locationBefore())
		// Every line not passed on since the last match went to before
		// (reset then): more of them than are kept is a gap.
		if g.n > 0 && g.printed && g.before.total > keep {
			g.emit(g.sep)
		}
		skip := g.before.len() - keep
		g.before.each(func(b []byte) {
			if skip > 0 {
				skip--
				return
			}
			g.emit(b)
		})
		g.before.reset()
		g.emit(l)
		g.lastOut = true
		g.after = g.n
		g.cont, g.assoc = digestAfter, assocAfter
		g.printed = true
		return
	}
	if g.after > 0 {
		g.after--
		g.cont = max(0, g.cont-1)
		g.emit(l)
		g.lastOut = true
		return
	}
	if g.cont > 0 && continues(string(l)) {
		g.cont--
		// A code frame belongs to its error whole; locations (stack
		// frames) are bounded, the first ones being the nearest.
		// A caret line points into the line above it: only with it.
		if isCodeFrame(l) && (g.lastOut || !isCaretLine(l)) || isFoldLine(l) {
			g.emit(l)
			g.lastOut = true
			return
		}
		if g.assoc > 0 && isFrameOrLocation(l) {
			g.assoc--
			g.emit(l)
			g.lastOut = true
			return
		}
	} else {
		g.cont = 0
	}
	g.lastOut = false
	g.before.add(l)
}

// isCaretLine reports whether l only points: "    ^^^", "   ~~^~~".
func isCaretLine(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	return len(t) > 0 && len(bytes.Trim(t, "^~ ")) == 0
}

// isCodeFrame reports whether l is a line of a code frame: "12 | code",
// "> 37 |", "   |   ^^^", "     ^".
func isCodeFrame(l []byte) bool {
	t := bytes.TrimLeft(l, " \t>")
	if i := bytes.IndexByte(t, '|'); i >= 0 && len(bytes.Trim(t[:i], "0123456789 ")) == 0 {
		return true
	}
	return isCaretLine(l)
}

// isFoldLine reports whether l is a FoldedMarker line.
func isFoldLine(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	return bytes.HasPrefix(t, []byte("[... ")) && bytes.Contains(t, []byte(" folded: "))
}

// isFrameOrLocation reports whether a line continuing a problem says where
// it is: a file location ("at f (/app/x.js:10:5)", "--> src/main.rs:3:5",
// "File: lib.js:2:0", Python's File "x.py", line 3) or a code frame line
// ("12 | code", "> 37 |", "   |   ^^^").
func isFrameOrLocation(l []byte) bool {
	t := bytes.TrimLeft(l, " \t>")
	if bytes.HasPrefix(t, []byte(`File "`)) {
		return true
	}
	if i := bytes.IndexByte(t, '|'); i >= 0 && len(bytes.Trim(t[:i], "0123456789 ")) == 0 {
		return true
	}
	for _, w := range bytes.FieldsFunc(l, func(r rune) bool { return r < 0x80 && identSep[r] }) {
		if isLocation(bytes.TrimRight(w, ":")) {
			return true
		}
	}
	return false
}

// locationBefore returns how many of the newest lines before a match
// belong to it: a location line followed only by lines that continue it
// (its code frame; Python's source and caret lines and folded frames
// after `File "x.py", line 3, in f`, as a traceback puts the place before
// the error), and a failed test's header right before ("✖ adds", " FAIL
// a.test.js > adds"); 0 when there are none.
func (g *grepContext) locationBefore() int {
	n := 0
	if g.before.len() > 0 && isFailureHeader(string(g.before.newest(1))) {
		n = 1 // the header alone, or the header of a location found below
	}
	for k := 1; k <= min(g.before.len(), assocBefore); k++ {
		l := g.before.newest(k)
		if isLocationLine(l) || isPythonFrame(l) {
			n = k
			if k < g.before.len() && isFailureHeader(string(g.before.newest(k+1))) {
				n = k + 1
			}
			return n
		}
		if !continues(string(l)) {
			return n
		}
	}
	return n
}

// isLocationLine reports whether l is only a place in a file,
// "/app/server.js:10" or "src/lib.js:2:0:", as runtimes print above the
// code frame of an error, perhaps after a mark (" ⨯ ./app/page.js:1:1").
func isLocationLine(l []byte) bool {
	w := bytes.TrimRight(bytes.TrimSpace(l), ":")
	// A runner's mark may lead it: Next's " ⨯ ./app/page.js:1:1".
	if r, n := utf8.DecodeRune(w); r >= 0x80 && n < len(w) && w[n] == ' ' && !unicode.IsLetter(r) {
		w = bytes.TrimLeft(w[n:], " ")
	}
	return len(w) > 0 && !bytes.ContainsAny(w, " \t") && isLocation(w)
}

// tailRing keeps the newest max lines in reused buffers and, with
// maxBytes, no more bytes than that (the newest line always stays): an
// answer is bounded in bytes (MaxAnswerBytes), so holding more than it
// can show would cost memory for nothing. A read of 2,000 lines of 50 KB
// held all 100 MB here before the answer was cut.
type tailRing struct {
	max      int
	maxBytes int      // 0: no bound in bytes
	bufs     [][]byte // slots, allocated as first needed, at most max
	start    int      // slot of the oldest kept line
	n        int      // lines kept
	size     int      // bytes kept
	total    int      // lines added
	byBytes  int      // lines dropped to stay within maxBytes
}

// bigSlot is the capacity above which a dropped line's buffer is let go
// rather than kept for reuse: with a bound in bytes the ring can cycle
// through all max slots while keeping a few lines, and each slot keeping
// the capacity of the longest line it ever held would undo the bound.
const bigSlot = 4 << 10

// add copies l in, dropping the oldest lines beyond max and maxBytes.
func (r *tailRing) add(l []byte) {
	r.total++
	if r.max <= 0 {
		return
	}
	if r.n == r.max {
		r.dropOldest()
	}
	slot := (r.start + r.n) % r.max
	if slot == len(r.bufs) {
		r.bufs = append(r.bufs, nil)
	}
	r.bufs[slot] = append(r.bufs[slot][:0], l...)
	r.n++
	r.size += len(l) + 1 // as answered: one line each
	for r.maxBytes > 0 && r.size > r.maxBytes && r.n > 1 {
		r.dropOldest()
		r.byBytes++
	}
}

func (r *tailRing) dropOldest() {
	b := r.bufs[r.start]
	r.size -= len(b) + 1
	if cap(b) > bigSlot {
		r.bufs[r.start] = nil
	}
	r.start = (r.start + 1) % r.max
	r.n--
}

func (r *tailRing) reset() {
	r.start, r.n, r.size, r.total, r.byBytes = 0, 0, 0, 0, 0
}

// len returns how many lines are kept.
func (r *tailRing) len() int { return r.n }

// newest returns the k-th newest kept line, 1 being the newest.
func (r *tailRing) newest(k int) []byte { return r.bufs[(r.start+r.n-k)%r.max] }

// each calls f with the kept lines, oldest first.
func (r *tailRing) each(f func([]byte)) {
	for i := range r.n {
		f(r.bufs[(r.start+i)%r.max])
	}
}

// lines returns the kept lines, oldest first, led by a marker when lines
// were dropped: OmittedMarker in place of the oldest kept line when the
// line cap dropped them (none when the cap is one line: that line is the
// newest), and BytesOmittedMarker in front when the bound in bytes did.
func (r *tailRing) lines() (out []string, omitted int) {
	out = make([]string, 0, r.n+1)
	r.each(func(l []byte) { out = append(out, string(l)) })
	switch omitted = r.total - r.n; {
	case omitted == 0:
	case r.byBytes > 0:
		out = append([]string{BytesOmittedMarker(omitted)}, out...)
	case r.max == 1:
		// No room for a marker: in place of the only line it would leave
		// nothing, and max_lines=1 asks for the newest line.
	default:
		omitted++
		out[0] = OmittedMarker(omitted)
	}
	return out, omitted
}
