package reaplist

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	f.Add(Format(List{Store: Stamp{1, 2, 3, 4}, Oldest: 1700000000, Names: []string{"task-1700000000-aaaa0001", ".staging-x"}}))
	f.Add([]byte(head + "\nstore 1 2 3 4\nindex 0 0 0 0\noldest 0\nend\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, ok := Parse(data)
		if !ok {
			return
		}
		for _, n := range l.Names {
			if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
				t.Fatalf("%q: name %q", data, n)
			}
		}
		again, ok := Parse(Format(l))
		if !ok || again.Store != l.Store || again.Index != l.Index || again.Oldest != l.Oldest || !slices.Equal(again.Names, l.Names) {
			t.Fatalf("round trip of %q: %+v -> %+v, %v", data, l, again, ok)
		}
	})
}

// NothingToDo says so only of a state folder whose list holds and names
// nothing, or of none at all; never of a folder the reaper would refuse.
func TestNothingToDo(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	dir := filepath.Join(t.TempDir(), "state")
	if !NothingToDo(dir, day, now) {
		t.Error("no state folder: the reaper has nothing to do, and NothingToDo does not say so")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if NothingToDo(dir, day, now) {
		t.Error("a state folder without a list: NothingToDo says nothing to do")
	}
	write := func(l List) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, CacheDir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, CacheDir, File), Format(l), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, index := Stamps(dir, fi)
	skipped := now.Add(-time.Hour).Unix()
	write(List{Store: store, Index: index, Oldest: skipped})
	fi, _ = os.Stat(dir) // The cache folder changed it.
	store, index = Stamps(dir, fi)
	write(List{Store: store, Index: index, Oldest: skipped})
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		mode   os.FileMode
		want   bool
	}{
		{"the list holds and names nothing", day, 0o700, true},
		{"a task it skipped is old enough to remove", 30 * time.Minute, 0o700, false},
		{"the folder is writable by others", day, 0o722, false},
	} {
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if got := NothingToDo(dir, tc.maxAge, now); got != tc.want {
			t.Errorf("%s: NothingToDo = %v, want %v", tc.name, got, tc.want)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(List{Store: store, Index: index, Oldest: skipped, Names: []string{"task-1700000000-aaaa0001"}})
	if NothingToDo(dir, day, now) {
		t.Error("a list that names a task: NothingToDo says nothing to do")
	}
	write(List{Store: store, Index: Stamp{Ino: 1}, Oldest: skipped})
	if NothingToDo(dir, day, now) {
		t.Error("a list of another ended index: NothingToDo says nothing to do")
	}
}
