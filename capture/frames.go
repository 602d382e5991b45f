package capture

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Stack frames of code the user did not write (dependencies, the runtime,
// the test harness) take most of an error's lines and say nothing the
// user can act on: six `at … node_modules/vite/dist/…` frames are half of
// each Vite error. The frame folder replaces each run of such frames by one
// line that says how many were folded and from where,
//
//	[... 9 frames folded: node_modules/vite (8), native (1) ...]
//
// indented as the first of them, and passes on the user's frames (every
// frame whose location is in none of the places below) untouched, so the
// first frame of the user's code before and after a run stays in place.
//
// A frame is a line of one of the shapes runtimes print: Node's and
// Java's "at f (file:1:2)", vitest's "❯ file:1:2", Ruby's "from file:1",
// Python's `File "x.py", line 3, in f` with the source lines indented
// under it, Go's "pkg.F(…)" with its tab-indented "/path/x.go:12 +0x1d",
// Rust's "12: symbol" with its "at /path:1:2". It is not the user's when
// its location is in a dependency (node_modules, site-packages,
// dist-packages, the Go module cache, vendor/, Ruby gems, the cargo
// registry) or a runtime (node:internal and node's other modules, Python's
// <frozen …> and standard library, Go's runtime/ and testing/, Rust's
// std, the JDK), or it has no file at all ("at async Promise.all (index
// 1)", "at new Promise (<anonymous>)": native code).
//
// A run of one line is left as it is: its fold line would be no shorter.
//
// Decorative rules go the same way: a line made only of a rule character
// (─ ━ ═ ⎯, four or more; = -, eight or more from the first columns)
// becomes three of them, and a rule right after another is dropped; in a
// titled rule ("⎯⎯⎯⎯ Failed Tests 3 ⎯⎯⎯⎯") runs of box-drawing
// characters shrink to three. A titled rule
// of ASCII characters ("===== short test summary info =====") is kept
// whole: it is a section header that tools and people search for as
// printed.

// FoldedMarker is the line that stands for n folded frames; sources lists
// where they came from, with counts, most frequent first.
func FoldedMarker(n int, sources string) string {
	frames := " frames"
	if n == 1 {
		frames = " frame"
	}
	return "[... " + strconv.Itoa(n) + frames + " folded: " + sources + " ...]"
}

// maxFoldSources bounds the sources a fold line names.
const maxFoldSources = 3

type frameSource struct {
	name string
	n    int
}

// frameFolder is the folding stage: lines go in through add, come out
// through emit. It holds the lines of the run being folded (to show them
// whole when the run stays one line) and one line that may be a Go or
// Rust function line waiting for its location line.
type frameFolder struct {
	emit func([]byte)

	held     [][]byte // lines of the current run of foreign frames
	heldN    int
	frames   int
	sources  []frameSource
	pyIndent int // inside a foreign Python frame: its indentation; -1 otherwise

	pending    []byte // a possible function line (Go, Rust) held for one line
	hasPending bool

	lastRule bool   // the last line emitted was a pure rule
	buf      []byte // scratch for fold and rule lines
	total    int    // frame lines folded, for Stats
}

func newFrameFolder(emit func([]byte)) *frameFolder {
	return &frameFolder{emit: emit, pyIndent: -1}
}

func (f *frameFolder) add(l []byte) {
	if f.pyIndent >= 0 {
		if indentOf(l) > f.pyIndent && !isFrameStart(l) {
			f.hold(l) // the source lines of the Python frame
			return
		}
		f.pyIndent = -1
	}
	if f.hasPending {
		f.hasPending = false
		if isLocationOnlyFrame(l) {
			if foreign, src := frameSourceOf(l); foreign {
				f.hold(f.pending)
				f.hold(l)
				f.count(src)
				return
			}
			f.flush()
			f.out(f.pending)
			f.out(l)
			return
		}
		f.flush()
		f.out(f.pending)
	}
	if isFunctionLine(l) {
		f.pending = append(f.pending[:0], l...)
		f.hasPending = true
		return
	}
	if isFrameStart(l) || isLocationOnlyFrame(l) {
		foreign, src := frameSourceOf(l)
		if !foreign {
			f.flush()
			f.out(l)
			return
		}
		f.hold(l)
		f.count(src)
		if isPythonFrame(l) {
			f.pyIndent = indentOf(l)
		}
		return
	}
	f.flush()
	f.out(l)
}

// finish ends the input.
func (f *frameFolder) finish() {
	if f.hasPending {
		f.hasPending = false
		f.flush()
		f.out(f.pending)
	}
	f.flush()
}

func (f *frameFolder) hold(l []byte) {
	if f.heldN == len(f.held) {
		f.held = append(f.held, nil)
	}
	f.held[f.heldN] = append(f.held[f.heldN][:0], l...)
	f.heldN++
}

func (f *frameFolder) count(src string) {
	f.frames++
	for i := range f.sources {
		if f.sources[i].name == src {
			f.sources[i].n++
			return
		}
	}
	f.sources = append(f.sources, frameSource{src, 1})
}

// flush ends the run being held: one fold line, or the line itself when
// the run is a single line.
func (f *frameFolder) flush() {
	defer func() { f.heldN, f.frames, f.sources, f.pyIndent = 0, 0, f.sources[:0], -1 }()
	switch f.heldN {
	case 0:
		return
	case 1:
		f.out(f.held[0])
		return
	}
	var names strings.Builder
	srcs := f.sources
	// Most frequent first; stable for equal counts (first seen first).
	for i := 1; i < len(srcs); i++ {
		for j := i; j > 0 && srcs[j].n > srcs[j-1].n; j-- {
			srcs[j], srcs[j-1] = srcs[j-1], srcs[j]
		}
	}
	for i, s := range srcs {
		if i == maxFoldSources {
			names.WriteString(", " + strconv.Itoa(len(srcs)-i) + " more")
			break
		}
		if i > 0 {
			names.WriteString(", ")
		}
		names.WriteString(s.name)
		names.WriteString(" (")
		names.WriteString(strconv.Itoa(s.n))
		names.WriteString(")")
	}
	first := f.held[0]
	f.buf = append(f.buf[:0], first[:len(first)-len(bytes.TrimLeft(first, " \t"))]...)
	f.buf = append(f.buf, FoldedMarker(f.frames, names.String())...)
	f.total += f.heldN
	f.out(f.buf)
}

// out emits a line that is not a foreign frame, folding decorative rules.
func (f *frameFolder) out(l []byte) {
	if r, ok := pureRule(l); ok {
		if f.lastRule {
			f.total++
			return
		}
		f.lastRule = true
		f.buf = append(f.buf[:0], l[:len(l)-len(bytes.TrimLeft(l, " "))]...)
		for range 3 {
			f.buf = utf8.AppendRune(f.buf, r)
		}
		f.emit(f.buf)
		return
	}
	f.lastRule = false
	if s, ok := shrinkBoxRuns(f.buf[:0], l); ok {
		f.buf = s
		l = s
	}
	f.emit(l)
}

// isRuleRune reports whether r draws rules.
func isRuleRune(r rune) bool {
	switch r {
	case '─', '━', '═', '⎯', '=', '-':
		return true
	}
	return false
}

// isBoxRune reports whether r is a box-drawing rule character (not ASCII).
func isBoxRune(r rune) bool {
	switch r {
	case '─', '━', '═', '⎯':
		return true
	}
	return false
}

// pureRule reports whether l is only one rule character, at least four
// of it, after its indentation, and which. An ASCII rule must be eight
// long and start in the first columns: indented under code, dashes and
// equal signs mark columns.
func pureRule(l []byte) (rune, bool) {
	t := bytes.TrimLeft(l, " ")
	if len(t) < 4 {
		return 0, false
	}
	r, _ := utf8.DecodeRune(t)
	if !isRuleRune(r) || r < 0x80 && (len(t) < 8 || len(l)-len(t) > 2) {
		return 0, false
	}
	n, size := 0, 0
	for i := 0; i < len(t); i += size {
		c, s := utf8.DecodeRune(t[i:])
		if c != r {
			return 0, false
		}
		size = s
		n++
	}
	return r, n >= 4
}

// shrinkBoxRuns appends l to dst with each run of four or more of one
// box-drawing character shrunk to three, when l starts with such a run
// (a titled rule); it reports false, appending nothing, otherwise. A run
// inside a line is a diagnostic's pointer ("│ ╰──── opened here") and
// stays.
func shrinkBoxRuns(dst, l []byte) ([]byte, bool) {
	t := bytes.TrimLeft(l, " ")
	r, _ := utf8.DecodeRune(t)
	if !isBoxRune(r) || !bytes.HasPrefix(t, bytes.Repeat([]byte(string(r)), 4)) {
		return dst, false
	}
	changed := false
	start := len(dst)
	for i := 0; i < len(l); {
		r, size := utf8.DecodeRune(l[i:])
		if !isBoxRune(r) {
			dst = append(dst, l[i:i+size]...)
			i += size
			continue
		}
		j, n := i, 0
		for j < len(l) {
			c, s := utf8.DecodeRune(l[j:])
			if c != r {
				break
			}
			j += s
			n++
		}
		if n >= 4 {
			changed = true
			n = 3
		}
		for range n {
			dst = utf8.AppendRune(dst, r)
		}
		i = j
	}
	if !changed {
		return dst[:start], false
	}
	return dst, true
}

func indentOf(l []byte) int {
	return len(l) - len(bytes.TrimLeft(l, " \t"))
}

// isFrameStart reports whether l is a frame line that names its place:
// "at …", "❯ …", "from …", `File "…"`.
func isFrameStart(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	switch {
	case bytes.HasPrefix(t, []byte("at ")) && len(t) > 3 && t[3] != ' ':
		return indentOf(l) > 0
	case bytes.HasPrefix(t, []byte("❯ ")):
		return indentOf(l) > 0 && hasLocation(t)
	case bytes.HasPrefix(t, []byte("from ")):
		return indentOf(l) > 0 && hasLocation(t)
	}
	return isPythonFrame(l)
}

func isPythonFrame(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	return bytes.HasPrefix(t, []byte(`File "`)) && bytes.Contains(t, []byte(`", line `))
}

// isLocationOnlyFrame reports whether l is the location line of a Go or
// Rust frame: indented, a path and a line ("\t/x/y.go:12 +0x1d",
// "at /rustc/…/panicking.rs:3:5").
func isLocationOnlyFrame(l []byte) bool {
	if indentOf(l) == 0 {
		return false
	}
	t := bytes.TrimLeft(l, " \t")
	t = bytes.TrimPrefix(t, []byte("at "))
	w := t
	if i := bytes.IndexByte(t, ' '); i >= 0 {
		w, t = t[:i], t[i+1:]
		if len(t) > 0 && !bytes.HasPrefix(t, []byte("+0x")) {
			return false
		}
	}
	return (bytes.Contains(w, []byte(".go:")) || bytes.Contains(w, []byte(".rs:"))) && isLocation(w)
}

// isFunctionLine reports whether l may be the function line of a Go frame
// ("main.f(…)", "created by testing.(*T).Run in goroutine 1") or of a Rust
// backtrace ("  12: std::rt::lang_start"); the next line decides.
func isFunctionLine(l []byte) bool {
	if bytes.HasPrefix(l, []byte("created by ")) {
		return true
	}
	if len(l) > 0 && l[0] != ' ' && l[0] != '\t' && l[len(l)-1] == ')' {
		i := bytes.IndexByte(l, '(')
		return i > 0 && bytes.IndexByte(l[:i], ' ') < 0
	}
	t := bytes.TrimLeft(l, " ")
	if d, ok := leadingNumber(t); ok && indentOf(l) > 0 && len(t) > d+2 && t[d] == ':' && t[d+1] == ' ' {
		return bytes.IndexByte(t[d+2:], ' ') < 0 && bytes.Contains(t, []byte("::"))
	}
	return false
}

// hasLocation reports whether a word of t is a location (path:line).
func hasLocation(t []byte) bool {
	for _, w := range bytes.FieldsFunc(t, func(r rune) bool { return r < 0x80 && identSep[r] }) {
		if isLocation(bytes.TrimRight(w, ":")) {
			return true
		}
	}
	return false
}

// frameSourceOf reports whether the frame line l is in code the user did
// not write, and names where it is.
func frameSourceOf(l []byte) (foreign bool, source string) {
	s := string(l)
	if i := strings.LastIndex(s, "node_modules/"); i >= 0 {
		return true, "node_modules/" + packageName(s[i+len("node_modules/"):])
	}
	if i := strings.Index(s, ".pnpm/"); i >= 0 {
		name := s[i+len(".pnpm/"):]
		if j := strings.IndexByte(name[min(1, len(name)):], '@'); j >= 0 {
			name = name[:j+min(1, len(name))]
		}
		return true, "node_modules/" + strings.ReplaceAll(name, "+", "/")
	}
	for _, d := range []string{"site-packages/", "dist-packages/"} {
		if i := strings.LastIndex(s, d); i >= 0 {
			return true, d + firstSegment(s[i+len(d):])
		}
	}
	if i := strings.Index(s, "node:"); i >= 0 && (i == 0 || !isAlnum(s[i-1])) {
		return true, "node:" + firstSegment(strings.TrimLeft(s[i+len("node:"):], " "))
	}
	if strings.Contains(s, "(internal/") || strings.Contains(s, " internal/") {
		return true, "node:internal"
	}
	if strings.Contains(s, "<frozen ") {
		return true, "python:frozen"
	}
	if i := strings.Index(s, "/pkg/mod/"); i >= 0 {
		mod := s[i+len("/pkg/mod/"):]
		if j := strings.IndexByte(mod, '@'); j >= 0 {
			mod = mod[:j]
		}
		return true, "go module " + mod
	}
	if i := strings.Index(s, "/vendor/"); i >= 0 {
		return true, "vendor/" + firstSegment(s[i+len("/vendor/"):])
	}
	for _, rt := range []string{"/src/runtime/", "/src/testing/"} {
		if strings.Contains(s, rt) {
			return true, "go " + strings.Trim(rt[len("/src"):], "/")
		}
	}
	if i := strings.Index(s, "/lib/python3"); i >= 0 {
		// The standard library: "/usr/lib/python3.11/json/decoder.py".
		version := firstSegment(s[i+len("/lib/"):])
		rest := s[i+len("/lib/")+len(version):]
		return true, version + "/" + firstSegment(strings.TrimPrefix(rest, "/"))
	}
	if i := strings.Index(s, "/gems/"); i >= 0 {
		return true, "gem " + firstSegment(s[i+len("/gems/"):])
	}
	if strings.Contains(s, "/lib/ruby/") {
		return true, "ruby"
	}
	if strings.Contains(s, ".cargo/registry/") {
		return true, "cargo registry"
	}
	if strings.Contains(s, "/rustc/") || strings.Contains(s, "/library/std/") || strings.Contains(s, "/library/core/") {
		return true, "rust std"
	}
	t := strings.TrimLeft(s, " \t")
	if strings.HasPrefix(t, "at java.") || strings.HasPrefix(t, "at jdk.") || strings.HasPrefix(t, "at sun.") || strings.Contains(t, "java.base/") {
		return true, "jdk"
	}
	// Native code: "at async Promise.all (index 1)", "at new Promise
	// (<anonymous>)", "at Array.forEach (native)".
	if strings.HasPrefix(t, "at ") && strings.HasSuffix(t, ")") && strings.Contains(t, " (") && !hasLocation([]byte(t)) && !strings.Contains(t, "/") {
		return true, "native"
	}
	return false, ""
}

// packageName is the npm package a path inside node_modules/ starts with:
// "vite", "@vitejs/plugin-react".
func packageName(p string) string {
	first := firstSegment(p)
	if strings.HasPrefix(first, "@") && len(p) > len(first)+1 {
		return first + "/" + firstSegment(p[len(first)+1:])
	}
	return first
}

// firstSegment is p up to its first '/', ':', space or closing parenthesis.
func firstSegment(p string) string {
	if i := strings.IndexAny(p, "/: )\"'"); i >= 0 {
		return p[:i]
	}
	return p
}
