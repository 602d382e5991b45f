package toolbox

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
)

// MaxLabelLen bounds a label, in characters: it names a task in a list.
const MaxLabelLen = 100

// checkLabel refuses a label that is not short printable text: a label is
// printed in lists on people's terminals, where a control character or an
// escape sequence (OSC 52 writes the clipboard) would act instead of show.
func checkLabel(label string) error {
	if n := utf8.RuneCountInString(label); n > MaxLabelLen {
		return &InputError{Param: "label", Msg: fmt.Sprintf("%d characters, at most %d", n, MaxLabelLen)}
	}
	for i, r := range label {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			_, n := utf8.DecodeRuneInString(label[i:])
			// The character's own bytes: U+009B is \u009b, not its first
			// byte read as Latin-1.
			return &InputError{Param: "label", Msg: fmt.Sprintf("must be printable text: %s at byte %d is not", printable(label[i:i+n]), i)}
		}
	}
	// Wherever a task is named, an id or a label goes (bgtask logs
	// ID|LABEL, bg_output task_id): a label that is a task id would name
	// two tasks, or the wrong one.
	if taskid.ValidID(label) == nil {
		return &InputError{Param: "label", Msg: fmt.Sprintf("%q is a task id: a label must not be one, since tasks are named by either", label)}
	}
	return nil
}

// printable escapes what a terminal would act on rather than show
// (control characters, escape sequences, invalid UTF-8) in s, Go-style
// (\x1b, \n, \u200b), for text from a task's record that people read: a
// label or command written by an earlier version, by hand or by a script.
func printable(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			ok = false
			break
		}
	}
	if ok {
		return s // The everyday case: no copy.
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r != utf8.RuneError && unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := fmt.Sprintf("%+q", string(r)) // ASCII-only: the rune escaped as in Go.
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// Printable is printable for the views outside this package that show a
// task's record to people (bgtask top's table, titles and messages).
func Printable(s string) string { return printable(s) }
