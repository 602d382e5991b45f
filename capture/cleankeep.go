package capture

import (
	"regexp"
	"strings"
	"sync"
)

// The corpus under testdata/corpus comes with NAME.keep files: the lines a
// developer must still see after cleaning. MissingKeeps is the one
// definition of "still see" shared by the corpus test and
// scripts/cleanbench.

// escapeSeq matches the escape sequences a keep entry or line might
// carry. Compiled on first use: every tool call links this package, few
// call MissingKeeps.
var escapeSeq = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile("\x1b(?:\\[[0-?]*[ -/]*[@-~]|\\][^\x07\x1b]*(?:\x07|\x1b\\\\)|[ -/]*[0-~])")
})

// keepForm is the form in which keep entries and cleaned lines are
// compared: escape sequences removed, every path reduced to its last
// component (shortening a path is not a loss, truncating a message is) and
// white space folded to single spaces.
func keepForm(s string) string {
	s = escapeSeq().ReplaceAllString(s, "")
	f := strings.Fields(s)
	for i, w := range f {
		if j := strings.LastIndexByte(w, '/'); j >= 0 {
			f[i] = w[j+1:]
		}
	}
	return strings.Join(f, " ")
}

// MissingKeeps returns the keep entries that are not a substring of any one
// cleaned line, both taken in keepForm. Blank entries are ignored.
func MissingKeeps(cleaned, keep []string) []string {
	lines := make([]string, len(cleaned))
	for i, l := range cleaned {
		lines[i] = keepForm(l)
	}
	var missing []string
	for _, k := range keep {
		want := keepForm(k)
		if want == "" {
			continue
		}
		found := false
		for _, l := range lines {
			if strings.Contains(l, want) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, k)
		}
	}
	return missing
}
