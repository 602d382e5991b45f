package installer

import (
	"fmt"
	"strings"
)

// Marked blocks in files the user owns (AGENTS.md, shell profiles): found,
// inserted, replaced and removed by their marker lines.

// Marker lines around the blocks the installer keeps in files the user
// owns: a rerun replaces the block between them, --uninstall removes it.
const (
	markdownBegin = "<!-- >>> amp-bg-tasks >>> -->"
	markdownEnd   = "<!-- <<< amp-bg-tasks <<< -->"
	shellBegin    = "# >>> amp-bg-tasks >>>"
	shellEnd      = "# <<< amp-bg-tasks <<<"
)

func blockMarkers(markdown bool) markers {
	if markdown {
		return markers{markdownBegin, markdownEnd}
	}
	return markers{shellBegin, shellEnd}
}

// markers are the lines around a block the installer owns in a user's
// file.
type markers struct{ begin, end string }

// find returns the byte range of the block, from its begin marker to the
// end of its end marker's line.
func (mk markers) find(s string) (start, end int, found bool) {
	start = lineIndex(s, mk.begin)
	if start < 0 {
		return 0, 0, false
	}
	rel := lineIndex(s[start:], mk.end)
	if rel < 0 {
		return start, -1, true
	}
	end = start + rel
	if nl := strings.IndexByte(s[end:], '\n'); nl >= 0 {
		end += nl + 1
	} else {
		end = len(s)
	}
	return start, end, true
}

// lineIndex is the index of the first line of s equal to line.
func lineIndex(s, line string) int {
	for off := 0; off <= len(s); {
		next := strings.IndexByte(s[off:], '\n')
		l := s[off:]
		if next >= 0 {
			l = s[off : off+next]
		}
		if strings.TrimRight(l, " \t\r") == line {
			return off
		}
		if next < 0 {
			return -1
		}
		off += next + 1
	}
	return -1
}

func (mk markers) wrap(body string) string {
	return mk.begin + "\n" + strings.TrimRight(body, "\n") + "\n" + mk.end + "\n"
}

// upsert returns s with body as its block: replaced in place (replaced),
// or appended after a blank line. A file without a final newline gets one
// before the block (addedNewline), for --uninstall to take away again.
func (mk markers) upsert(s, body string) (next string, replaced, addedNewline bool, err error) {
	start, end, found := mk.find(s)
	switch {
	case found && end < 0:
		return "", false, false, fmt.Errorf("%q without %q after it: fix the file by hand", mk.begin, mk.end)
	case found:
		return s[:start] + mk.wrap(body) + s[end:], true, false, nil
	case s == "":
		return mk.wrap(body), false, false, nil
	case !strings.HasSuffix(s, "\n"):
		s += "\n"
		addedNewline = true
	}
	return s + "\n" + mk.wrap(body), false, addedNewline, nil
}

// remove returns s without its block, and without the blank line upsert
// put before it, so that an install and an uninstall leave s as it was.
func (mk markers) remove(s string) (string, error) {
	start, end, found := mk.find(s)
	switch {
	case !found:
		return s, nil
	case end < 0:
		return "", fmt.Errorf("%q without %q after it: fix the file by hand", mk.begin, mk.end)
	}
	before := s[:start]
	if strings.HasSuffix(before, "\n\n") {
		before = before[:len(before)-1]
	}
	return before + s[end:], nil
}
