// Package taskid holds the two rules about names that every layer
// shares: what a task id looks like (ValidID), and how any outside
// string becomes part of a file name (FileName). It imports nothing of
// the project, so the store, the log reader and the remote records all
// agree without importing one another.
//
// It does not make ids (supervisor does) nor decide where files go.
package taskid

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidID reports a task id that is not of the form
// task-<seconds>-<suffix>.
var ErrInvalidID = errors.New("invalid task_id")

// ValidID checks that id has the form task-<unix seconds>-<suffix>: a
// name that is safe as a folder name, so no id can reach outside the
// state folder.
func ValidID(id string) error {
	if !Valid(id) {
		return fmt.Errorf("%w %q: want task-<unix seconds>-<suffix>", ErrInvalidID, id)
	}
	return nil
}

// Valid reports what ValidID checks, for a string or for bytes (a
// directory entry, a line of an index) without making a string of them.
func Valid[T string | []byte](id T) bool {
	const prefix = "task-"
	if len(id) < len(prefix) || string(id[:len(prefix)]) != prefix {
		return false
	}
	rest := id[len(prefix):]
	dash := -1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '-' {
			dash = i
			break
		}
	}
	return dash >= 0 && within(rest[:dash], 20, "0123456789") && within(rest[dash+1:], 32, "0123456789abcdefghijklmnopqrstuvwxyz")
}

// within reports whether s has 1 to n bytes, all from set.
func within[T string | []byte](s T, n int, set string) bool {
	if len(s) == 0 || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// maxFileName bounds what FileName keeps.
const maxFileName = 64

// FileName reduces s (a reader's thread id, a host name, a version) to a
// string safe as part of a file name and unquoted in any shell: ASCII
// letters and digits, '-', '_', '.' and '+' are kept, every other rune
// becomes '_', and at most 64 bytes are kept. It is a part, never a
// whole name: "." and ".." come through, so callers add a prefix or
// suffix of their own. Two strings may share a FileName; where that
// matters, add a hash of the whole.
func FileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= maxFileName {
			break
		}
	}
	return b.String()
}
