// Package pathlook finds programs in a PATH given as a value: the PATH of
// a caller whose environment is not this process's (a call the call
// server answers, an install for a PATH the user gave), where
// exec.LookPath would search this process's own.
package pathlook

import (
	"os"
	"path/filepath"
)

// Find returns the first regular, executable file named name in the
// folders of path (a PATH value), "" when there is none. Relative
// folders ("." and the empty entry among them) are passed over, as
// exec.LookPath refuses what they find: a program of the current folder
// is nobody's choice.
func Find(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
