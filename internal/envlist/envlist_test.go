package envlist

import "testing"

func TestGet(t *testing.T) {
	env := []string{"PATH=/a", "PATHS=/no", "HOME=/h", "PATH=/b", "EMPTY=", "NOEQUALS"}
	for _, c := range []struct{ key, want string }{
		{"PATH", "/b"}, // the last wins
		{"PATHS", "/no"},
		{"HOME", "/h"},
		{"EMPTY", ""},
		{"NOEQUALS", ""},
		{"PAT", ""}, // a prefix of a name is not the name
		{"MISSING", ""},
	} {
		if got := Get(env, c.key); got != c.want {
			t.Errorf("Get(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}
