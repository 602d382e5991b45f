package capture

import (
	"regexp"
	"strings"
)

// The digest's failed tests: each named once, with where it failed first
// in the user's code.

// failure is a failed test in a log: the line that names it and the
// first line after it that locates it in the user's code (-1: none).
type failure struct {
	header, location int
}

// failuresOf finds the failed tests named before the log's last lines
// (each name once: runners repeat them in their summary) and where each
// failed in the user's code: the first location in the lines after its
// name, before the next failure, that is not a dependency's or runtime's.
func failuresOf(text []string, kinds []lineKind, end int) []failure {
	var out []failure
	named := map[string]bool{}
	for i := 0; i < end; i++ {
		if kinds[i] < kindError || !isFailureHeader(text[i]) {
			continue
		}
		name := string(maskVolatile(nil, []byte(text[i]), false))
		if named[name] {
			continue
		}
		named[name] = true
		f := failure{header: i, location: -1}
		// Up to the next failure counted: a file's "FAIL a.test.ts" is
		// followed by its tests' "● suite › name" headers, which do not
		// count (no error word), and then by where the first one failed.
		for j := i + 1; j < len(text) && j <= i+40 && !(kinds[j] >= kindError && isFailureHeader(text[j])); j++ {
			if isFoldLine([]byte(text[j])) {
				continue
			}
			if foreign, _ := frameSourceOf([]byte(text[j])); foreign {
				continue
			}
			if hasLocation([]byte(text[j])) || isPythonFrame([]byte(text[j])) {
				f.location = j
				break
			}
		}
		out = append(out, f)
	}
	return out
}

// failureLine is the index line of a failure: its name, then where it
// failed first in the user's code.
func failureLine(text []string, f failure) string {
	l := strings.TrimSpace(text[f.header])
	if f.location < 0 {
		return l
	}
	loc := strings.TrimSpace(text[f.location])
	if !isPythonFrame([]byte(loc)) {
		for _, w := range strings.FieldsFunc(loc, func(r rune) bool { return r < 0x80 && identSep[r] }) {
			if isLocation([]byte(strings.TrimRight(w, ":"))) {
				loc = strings.TrimRight(w, ":")
				break
			}
		}
	}
	if strings.Contains(l, loc) {
		return l
	}
	return l + " — " + loc
}

// failurePattern is a filter that finds failures named like header: its
// leading mark or word ("✖", "FAIL", "--- FAIL").
func failurePattern(header string) string {
	t := strings.TrimLeft(header, " \t")
	if i := strings.IndexAny(t, " :"); i > 0 {
		t = t[:i]
	}
	if t == "---" {
		return "--- FAIL"
	}
	return regexp.QuoteMeta(t)
}
