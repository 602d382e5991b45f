package pathlook

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for path, mode := range map[string]os.FileMode{
		filepath.Join(a, "tool"):  0o644, // not executable: passed over
		filepath.Join(b, "tool"):  0o755,
		filepath.Join(a, "other"): 0o755,
	} {
		if err := os.WriteFile(path, nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(a, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	list := a + string(filepath.ListSeparator) + b
	for name, want := range map[string]string{
		"tool":    filepath.Join(b, "tool"),
		"other":   filepath.Join(a, "other"),
		"dir":     "", // a folder is no program
		"missing": "",
	} {
		if got := Find(name, list); got != want {
			t.Errorf("Find(%q) = %q, want %q", name, got, want)
		}
	}
	if got := Find("tool", ""); got != "" {
		t.Errorf("Find in an empty PATH = %q", got)
	}
	t.Chdir(b)
	if got := Find("tool", "."+string(filepath.ListSeparator)); got != "" {
		t.Errorf("Find in a PATH of the current folder = %q, want nothing", got)
	}
}
