package capture

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode"
)

// Filters are case-insensitive regular expressions, and most of them are a
// handful of words ("error|warn|fail"). Go's regexp runs at tens of MB/s,
// so when an expression is exactly a set of ASCII literals the matcher
// searches for the literals itself and keeps the regexp for the rare line
// where ASCII case folding would be wrong.

// maxLiterals bounds the literal set an expression may expand to.
const maxLiterals = 32

// matcher reports whether a cleaned line matches an expression.
type matcher struct {
	re *regexp.Regexp
	// lits, when not nil, are lower-case ASCII strings such that the
	// expression matches exactly the lines containing one of them,
	// ignoring ASCII case.
	lits [][]byte
	// starts holds the first two bytes of each literal in every ASCII
	// case, as a bit set indexed by b0<<8|b1, when every literal has two
	// bytes or more: one pass over the line then finds the places a
	// literal can start.
	starts *[1 << 16 / 64]uint64
	lower  []byte // scratch
}

// newMatcher compiles expr case-insensitively; what names the parameter in
// errors.
func newMatcher(what, expr string) (*matcher, error) {
	re, err := regexp.Compile("(?i)" + expr)
	if err != nil {
		if _, plain := regexp.Compile(expr); plain != nil {
			err = plain // Quotes the expression as given, not with our (?i).
		}
		return nil, fmt.Errorf("invalid %s regex %q: %w", what, expr, err)
	}
	m := &matcher{re: re}
	if tree, err := syntax.Parse("(?i)"+expr, syntax.Perl); err == nil {
		if lits, ok := literalSet(tree, maxLiterals); ok {
			m.lits = make([][]byte, len(lits))
			m.starts = new([1 << 16 / 64]uint64)
			for i, l := range lits {
				m.lits[i] = []byte(l)
				if len(l) < 2 {
					m.starts = nil
				} else if m.starts != nil {
					for _, a := range caseVariants(l[0]) {
						for _, b := range caseVariants(l[1]) {
							k := uint16(a)<<8 | uint16(b)
							m.starts[k/64] |= 1 << (k % 64)
						}
					}
				}
			}
		}
	}
	return m, nil
}

// Kelvin sign and long s are the only non-ASCII runes whose case folding
// reaches ASCII letters ('k' and 's'): a line holding one needs the regexp.
var (
	kelvin = []byte("\u212A")
	longS  = []byte("\u017F")
)

func (m *matcher) match(line []byte) bool {
	if m.lits == nil {
		return m.re.Match(line)
	}
	if m.starts != nil {
		return m.matchStarts(line)
	}
	if cap(m.lower) < len(line) {
		m.lower = make([]byte, len(line), 2*len(line))
	}
	low := m.lower[:len(line)]
	hi := byte(0)
	for i, c := range line {
		low[i] = asciiLower[c]
		hi |= c
	}
	if hi >= 0x80 && (bytes.Contains(line, kelvin) || bytes.Contains(line, longS)) {
		return m.re.Match(line)
	}
	for _, l := range m.lits {
		if bytes.Contains(low, l) {
			return true
		}
	}
	return false
}

// matchStarts is match for literals of two bytes or more: it folds case
// and looks for literal starts in a single pass.
func (m *matcher) matchStarts(line []byte) bool {
	for i := 0; i+1 < len(line); i++ {
		k := uint16(line[i])<<8 | uint16(line[i+1])
		if m.starts[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		for _, l := range m.lits {
			if hasFoldPrefix(line[i:], l) {
				return true // an ASCII match is a match whatever the folding
			}
		}
	}
	if bytes.Contains(line, kelvin) || bytes.Contains(line, longS) {
		return m.re.Match(line)
	}
	return false
}

// caseVariants returns the ASCII cases of a lower-case byte.
func caseVariants(c byte) []byte {
	if c >= 'a' && c <= 'z' {
		return []byte{c, c - ('a' - 'A')}
	}
	return []byte{c}
}

// hasFoldPrefix reports whether b starts with the lower-case ASCII lit,
// ignoring ASCII case.
func hasFoldPrefix(b, lit []byte) bool {
	if len(b) < len(lit) {
		return false
	}
	for i, c := range lit {
		if asciiLower[b[i]] != c {
			return false
		}
	}
	return true
}

// asciiLower maps each byte to its ASCII lower case.
var asciiLower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

// literalSet expands a parsed expression into the lower-case literals it
// matches, if it is a finite, case-insensitive set of ASCII strings with no
// anchors or repetition. An unanchored match of such an expression is a
// substring search for any of the literals.
func literalSet(re *syntax.Regexp, limit int) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			return nil, false
		}
		b := make([]byte, 0, len(re.Rune))
		for _, r := range re.Rune {
			if r >= 0x80 {
				return nil, false
			}
			b = append(b, byte(unicode.ToLower(r)))
		}
		return []string{string(b)}, true
	case syntax.OpCharClass:
		// Only classes closed under ASCII case folding, like the [Ee]
		// that (?i)e parses to, expand to lower-case literals.
		var in [128]bool
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= 0x80 || int(hi-lo) >= limit {
				return nil, false
			}
			for r := lo; r <= hi; r++ {
				in[r] = true
				n++
			}
		}
		if n > limit {
			return nil, false
		}
		var out []string
		for r := range rune(128) {
			if !in[r] {
				continue
			}
			l, u := unicode.ToLower(r), unicode.ToUpper(r)
			if !in[l] || !in[u] {
				return nil, false
			}
			if r == l {
				out = append(out, string(r))
			}
		}
		return out, len(out) > 0
	case syntax.OpCapture:
		return literalSet(re.Sub[0], limit)
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			s, ok := literalSet(sub, limit)
			if !ok || len(out)+len(s) > limit {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			s, ok := literalSet(sub, limit)
			if !ok || len(out)*len(s) > limit {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(s))
			for _, a := range out {
				for _, b := range s {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}
