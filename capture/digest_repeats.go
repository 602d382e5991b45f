package capture

import "fmt"

// The digest's repeats: problems shown once with their number, whatever
// their numbers say, but never two places or two states taken for one.

// dedupeUnits is the digest of a log that fits its budget whole: every
// line, except that a problem repeated identically or nearly (numbers
// masked) is shown once, its first line marked with how many times it
// came ("[× 3]"). A problem's unit runs from its line to the next
// problem's, at most digestAfter lines: a dev server's error block
// printed on every request is one unit.
func dedupeUnits(text []string, kinds []lineKind, summary []bool) []string {
	// masked[i] is line i's key as a unit's first line, strict[i] as a
	// line that continues one (see nearKey).
	masked, strict := make([]string, len(text)), make([]string, len(text))
	var key []byte
	for i, l := range text {
		key = nearKey(key[:0], l, summary[i])
		masked[i] = string(key)
		strict[i] = masked[i]
		if !summary[i] {
			key = nearKey(key[:0], l, true)
			strict[i] = string(key)
		}
	}
	type unit struct{ from, to int }
	var units []unit
	for i := 0; i < len(text); i++ {
		if kinds[i] < kindError {
			continue
		}
		to := i + 1
		// A header of two problem lines (" ⨯ ./app/page.js:1:1", "Module
		// not found: …") is one unit.
		if to < len(text) && kinds[to] >= kindError && isLocationLine([]byte(text[i])) {
			to++
		}
		for to < len(text) && to-i <= digestAfter && kinds[to] < kindError {
			to++
		}
		units = append(units, unit{i, to})
		i = to - 1
	}
	// A repeat is a unit whose lines begin as those of the first unit with
	// its first line, or that is all of their beginning: what follows a
	// repeat (the next message, unmarked) stays.
	first := map[string]unit{}
	count := map[int]int{}
	varies := map[int]bool{} // a repeat's first line differs from the first unit's (its numbers)
	drop := make([]bool, len(text))
	for _, u := range units {
		f, ok := first[masked[u.from]]
		if !ok {
			first[masked[u.from]] = u
			continue
		}
		n := 1 // The first lines are alike: f was found by it.
		for n < u.to-u.from && n < f.to-f.from && strict[u.from+n] == strict[f.from+n] {
			n++
		}
		if n < min(u.to-u.from, f.to-f.from) {
			continue // Not the same problem, only the same first line.
		}
		count[f.from]++
		varies[f.from] = varies[f.from] || strict[u.from] != strict[f.from] // Its plain numbers; times and ids may differ.
		for i := u.from; i < u.from+n; i++ {
			drop[i] = true
		}
	}
	if len(count) == 0 {
		return text
	}
	out := make([]string, 0, len(text))
	for i, l := range text {
		switch {
		case drop[i]:
		case count[i] > 0:
			out = append(out, l+repeatMark(count[i]+1, varies[i]))
		default:
			out = append(out, l)
		}
	}
	return out
}

// repeatMark is the mark of a problem shown once for n: " [× 3]", or
// " [× 3, numbers vary]" when the others' lines differ from the one shown
// in their plain numbers ("retry 5" for "retry 5" to "retry 30"), which
// the agent must not read as the same line three times. Numbers that are
// times, durations or ids differ in every repeat and are not counted.
func repeatMark(n int, varies bool) string {
	if varies {
		return fmt.Sprintf(" [× %d, numbers vary]", n)
	}
	return fmt.Sprintf(" [× %d]", n)
}

// collapseAll folds the repeats of lines as the default read does (see
// collapser): a short log's digest keeps its 40 progress lines no more
// than a read of it would.
func collapseAll(lines []string) []string {
	out := make([]string, 0, len(lines))
	c := collapser{emit: func(l []byte) { out = append(out, string(l)) }}
	for _, l := range lines {
		c.add([]byte(l))
	}
	c.finish()
	return out
}

// nearKey appends what two problem lines must share to count as one
// problem repeated (see dedupeUnits, newSelection): the line with its
// numbers masked, as the collapser compares neighbours, and its
// diagnostic identity unmasked (locations and error codes: an assertion
// at stock_test.go:47 and the same one at :93 are two failures to fix).
// With strict, plain numbers are kept, only those volatile by their form
// masked (times, durations, ids): so for a summary line ("Found 6
// errors" then "Found 4 errors" are two states of the run, and the last
// is the verdict) and for the lines that continue a problem ("expected:
// 4" and "expected: 10" are two failures; a timestamp or a duration
// that differs makes no new one).
func nearKey(dst []byte, line string, strict bool) []byte {
	dst = maskVolatile(dst, []byte(line), strict)
	dst = append(dst, 0)
	return diagIdentity(dst, []byte(line))
}
