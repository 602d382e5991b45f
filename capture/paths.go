package capture

import (
	"bytes"
	"fmt"
	"path/filepath"
)

// Paths are the longest tokens in JavaScript stack traces: a pnpm store path
// alone can take 300 characters. The shortener rewrites each path token on
// its own, so it is idempotent (a shortened path is left alone) and a
// prefix of a shortened line never shortens further, which keeps cleaning
// stable under truncation.

var (
	nodeModules = []byte("node_modules/")
	pnpmDir     = []byte(".pnpm/")
	fileScheme  = []byte("file://")
	peerSuffix  = []byte("_@...")
)

// isPathStop marks the bytes that end a path token.
var isPathStop = func() (t [256]bool) {
	for _, c := range []byte(" \t\"'`()<>[]{},;|!=") {
		t[c] = true
	}
	return t
}()

// pathShortener rewrites node_modules paths and paths under a working
// directory. The zero value only shortens node_modules paths.
type pathShortener struct {
	cwd []byte // "/abs/dir/", or nil
}

func newPathShortener(cwd string) (pathShortener, error) {
	if cwd == "" {
		return pathShortener{}, nil
	}
	if !filepath.IsAbs(cwd) {
		return pathShortener{}, fmt.Errorf("invalid cwd %q: not an absolute path", cwd)
	}
	cwd = filepath.Clean(cwd)
	if cwd == "/" {
		return pathShortener{}, nil // every path is inside "/": nothing to gain
	}
	return pathShortener{cwd: []byte(cwd + "/")}, nil
}

// shorten appends line with its paths shortened to dst. It reports false,
// and appends nothing, when there is no path to shorten.
func (ps *pathShortener) shorten(dst, line []byte) ([]byte, bool) {
	if !bytes.Contains(line, nodeModules) && (ps.cwd == nil || !bytes.Contains(line, ps.cwd)) {
		return dst, false
	}
	for i := 0; i < len(line); {
		if isPathStop[line[i]] {
			dst = append(dst, line[i])
			i++
			continue
		}
		j := i
		for j < len(line) && !isPathStop[line[j]] {
			j++
		}
		dst = ps.token(dst, line[i:j])
		i = j
	}
	return dst, true
}

// token appends the shortened form of one path token.
func (ps *pathShortener) token(dst, tok []byte) []byte {
	if bytes.HasPrefix(tok, pnpmDir) {
		return append(dst, tok...) // already shortened
	}
	if i := nodeModulesIndex(tok); i >= 0 {
		rest := tok[i+len(nodeModules):]
		// .../node_modules/.pnpm/<pkg>@<ver>_<peers>/node_modules/<pkg>/...
		// becomes .pnpm/<pkg>@<ver>_@.../<pkg>/...
		if bytes.HasPrefix(rest, pnpmDir) {
			rest = rest[len(pnpmDir):]
			if j := bytes.Index(rest, []byte("/node_modules/")); j > 0 && bytes.IndexByte(rest[:j], '/') < 0 {
				dst = append(dst, pnpmDir...)
				dst = appendPnpmDir(dst, rest[:j])
				dst = append(dst, '/')
				return append(dst, rest[j+len("/node_modules/"):]...)
			}
		}
		// /home/dev/app/node_modules/<pkg>/... becomes node_modules/<pkg>/...
		return append(dst, tok[i:]...)
	}
	if ps.cwd != nil {
		// A path inside the working directory becomes relative. Repeat so
		// that a path that still starts with the directory (a doubled
		// prefix) cannot be shortened again by a second cleaning.
		t := tok
		for {
			if bytes.HasPrefix(t, ps.cwd) {
				t = t[len(ps.cwd):]
			} else if bytes.HasPrefix(t, fileScheme) && bytes.HasPrefix(t[len(fileScheme):], ps.cwd) {
				t = t[len(fileScheme)+len(ps.cwd):]
			} else {
				break
			}
		}
		if len(t) == 0 && len(tok) > 0 {
			return append(dst, '.')
		}
		return append(dst, t...)
	}
	return append(dst, tok...)
}

// nodeModulesIndex returns the index of the first "node_modules/" that is a
// whole path component, or -1.
func nodeModulesIndex(tok []byte) int {
	for off := 0; ; {
		i := bytes.Index(tok[off:], nodeModules)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || tok[i-1] == '/' {
			return i
		}
		off = i + 1
	}
}

// appendPnpmDir appends a pnpm store directory name without its peer
// dependency suffix: "axios@1.21.1_debug@4.4.3_..." becomes "axios@1.21.1_@...".
// The version starts at the first '@' that is not the scope's.
func appendPnpmDir(dst, dir []byte) []byte {
	at := bytes.IndexByte(dir[1:], '@') + 1
	if at > 0 {
		if us := bytes.IndexByte(dir[at:], '_'); us > 0 {
			dst = append(dst, dir[:at+us]...)
			return append(dst, peerSuffix...)
		}
	}
	return append(dst, dir...)
}
