package taskid

import (
	"errors"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for id, ok := range map[string]bool{
		"task-1765000000-ab12cd": true, "task-1-x": true,
		"": false, "task-": false, "task-1": false, "task--x": false, "task-1-": false,
		"task-1-X": false, "task-x-1": false, "../../etc": false, "task-1-x/../../y": false,
		"task-1-" + strings.Repeat("a", 33): false, "task-" + strings.Repeat("1", 21) + "-a": false,
		"task-1795463206-7fbbf9c9": true, "task-1234567-890": true, "task-1-" + strings.Repeat("a", 32): true,
		"/tmp/x": false, "task-1-a/b": false, "task-1-A": false, "task-1-a-b": false, "xtask-1-a": false, "task-1-a\n": false,
	} {
		err := ValidID(id)
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"T-abc_1":                "T-abc_1",
		"user@host:22":           "user_host_22",
		"v0.1.0+dirty (x/y)":     "v0.1.0+dirty__x_y_",
		"a/../b":                 "a_.._b",
		"héllo":                  "h_llo",
		"":                       "",
		strings.Repeat("x", 100): strings.Repeat("x", 64),
	} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FileName never yields a path separator, a quote or a shell
// metacharacter, whatever it is given.
func FuzzFileName(f *testing.F) {
	f.Add("T-1/..\x00'$(x)`")
	f.Fuzz(func(t *testing.T, s string) {
		got := FileName(s)
		if len(got) > 64 || strings.ContainsAny(got, "/\\\x00'\"$`;&|<> \t\n*?[]{}()~!#=%,:@") {
			t.Fatalf("FileName(%q) = %q", s, got)
		}
	})
}
