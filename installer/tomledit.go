package installer

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Editing our table in Codex's config.toml as text, so that the user's
// comments and layout stay: a new table is appended, an update rewrites
// only our keys' lines, and a removal takes out exactly the lines (and
// the blank line) the install added. Every result is checked with a TOML
// parser before it is written.

// tomlUndo is what --uninstall needs to take the table back exactly.
type tomlUndo struct {
	// AddedNewline is set when the file did not end with a newline and
	// the install added one before its table.
	AddedNewline bool `json:"added_newline,omitempty"`
}

// tomlHeaders are the ways a header can name table name.
func tomlHeaders(table string) []string {
	dot := strings.LastIndexByte(table, '.')
	return []string{"[" + table + "]", "[" + table[:dot] + `."` + table[dot+1:] + `"]`}
}

// tomlLines splits s into lines, each with its newline.
func tomlLines(s string) []string { return strings.SplitAfter(s, "\n") }

// isHeader reports whether line starts a table.
func isHeader(line string) bool { return strings.HasPrefix(strings.TrimSpace(line), "[") }

// tomlTableRange finds the lines of table: from its header to its last
// key line (blank lines and comments before the next header are not
// part of it). ok is false when the file has no such header.
func tomlTableRange(s, table string) (start, end int, ok bool) {
	heads := tomlHeaders(table)
	off := 0
	lines := tomlLines(s)
	for _, l := range lines {
		head := strings.TrimSpace(l)
		if h, _, found := strings.Cut(head, "#"); found {
			head = strings.TrimSpace(h)
		}
		if !ok && (head == heads[0] || head == heads[1]) {
			start, end, ok = off, off+len(l), true
		} else if ok {
			if isHeader(l) {
				break
			}
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				end = off + len(l)
			}
		}
		off += len(l)
	}
	return start, end, ok
}

// tomlKeyLine is `key = value` with value written by the TOML encoder.
func tomlKeyLine(key string, value any) (string, error) {
	b, err := toml.Marshal(map[string]any{key: value})
	if err != nil {
		return "", fmt.Errorf("write %s: %w", key, err)
	}
	return strings.TrimRight(string(b), "\n") + "\n", nil
}

// setTOMLTable puts fields into table in s.
func setTOMLTable(s, table string, fields []field) (next string, undo tomlUndo, state string, err error) {
	var doc map[string]any
	if err := toml.Unmarshal([]byte(s), &doc); err != nil {
		return "", undo, "", fmt.Errorf("not valid TOML: %w", err)
	}
	var lines []string
	for _, f := range fields {
		l, err := tomlKeyLine(f.Name, f.Value)
		if err != nil {
			return "", undo, "", err
		}
		lines = append(lines, l)
	}
	start, end, found := tomlTableRange(s, table)
	if !found {
		if tomlLookup(doc, table) != nil {
			return "", undo, "", fmt.Errorf("%s is written in a form this installer does not edit (not a [%s] table)", table, table)
		}
		sep := ""
		switch {
		case s == "":
		case !strings.HasSuffix(s, "\n"):
			sep, undo.AddedNewline = "\n\n", true
		default:
			sep = "\n"
		}
		next = s + sep + tomlHeaders(table)[0] + "\n" + strings.Join(lines, "")
		state = "registered"
	} else {
		have, _ := tomlLookup(doc, table).(map[string]any)
		body := s[start:end]
		changed := false
		for i, f := range fields {
			if want, _ := normalizeTOML(f.Value); reflect.DeepEqual(have[f.Name], want) {
				continue
			}
			changed = true
			if j := tomlKeyIndex(body, f.Name); j >= 0 {
				k := strings.IndexByte(body[j:], '\n')
				body = body[:j] + lines[i] + body[j+k+1:]
			} else {
				if !strings.HasSuffix(body, "\n") {
					body += "\n"
				}
				body += lines[i]
			}
		}
		if !changed {
			return s, undo, "already", nil
		}
		next, state = s[:start]+body+s[end:], "updated"
	}
	if err := toml.Unmarshal([]byte(next), &doc); err != nil {
		return "", undo, "", fmt.Errorf("the edited file would not parse: %w", err)
	}
	return next, undo, state, nil
}

// tomlKeyIndex is the offset of the line setting key in a table's text,
// or -1. The header line is skipped.
func tomlKeyIndex(body, key string) int {
	off := 0
	for i, l := range tomlLines(body) {
		if i > 0 {
			k, _, ok := strings.Cut(l, "=")
			if ok && strings.Trim(strings.TrimSpace(k), `"'`) == key {
				return off
			}
		}
		off += len(l)
	}
	return -1
}

// normalizeTOML is v as the TOML decoder gives it back.
func normalizeTOML(v any) (any, error) {
	b, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := toml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return doc["v"], nil
}

// tomlLookup finds a dotted table name in a decoded document.
func tomlLookup(doc map[string]any, table string) any {
	dot := strings.LastIndexByte(table, '.')
	parent, _ := doc[table[:dot]].(map[string]any)
	return parent[table[dot+1:]]
}

// removeTOMLTable takes table out of s if owned says it is still ours,
// with the blank line (and the newline) the install put before it.
func removeTOMLTable(s, table string, undo tomlUndo, owned func(map[string]any) bool) (next string, found bool, err error) {
	var doc map[string]any
	if err := toml.Unmarshal([]byte(s), &doc); err != nil {
		return "", false, fmt.Errorf("not valid TOML: %w", err)
	}
	have, _ := tomlLookup(doc, table).(map[string]any)
	if have == nil || !owned(have) {
		return s, false, nil
	}
	start, end, ok := tomlTableRange(s, table)
	if !ok {
		return "", false, fmt.Errorf("%s is written in a form this installer does not edit: remove it by hand", table)
	}
	before, after := s[:start], s[end:]
	if after == "" {
		if strings.HasSuffix(before, "\n\n") {
			before = before[:len(before)-1]
		}
		if undo.AddedNewline {
			before = strings.TrimSuffix(before, "\n")
		}
	}
	next = before + after
	if err := toml.Unmarshal([]byte(next), &doc); err != nil {
		return "", false, fmt.Errorf("removing %s would break the file: %w", table, err)
	}
	return next, true, nil
}
