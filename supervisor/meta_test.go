//go:build unix

package supervisor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMetaFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	long := strings.Repeat("npm run dev -- --port 3000 ", 400) // Several reads' worth.
	for _, content := range []string{"", "running\n", long} {
		p := filepath.Join(dir, "f")
		if err := writeMeta(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readMeta(p)
		if err != nil || string(got) != content {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(content))
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, %v", fi.Mode(), err)
		}
	}
	if _, err := readMeta(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	// A planted symlink is neither read nor written through.
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if b, err := readMeta(link); err == nil {
		t.Errorf("read through a symlink: %q", b)
	}
	if err := writeMeta(link, []byte("x"), 0o600); err == nil {
		t.Error("wrote through a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "secret" {
		t.Errorf("target changed: %q", b)
	}
}

// A timeout of zero means none; a positive one, however small, must not
// become zero (and so forever) in the conversion.
func TestMinutes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m    float64
		want time.Duration
	}{
		{0, 0}, {1, time.Minute}, {0.5, 30 * time.Second}, {120, 2 * time.Hour}, {1e-12, 1}, {1e-300, 1},
	} {
		if got := Minutes(c.m); got != c.want {
			t.Errorf("Minutes(%g) = %v, want %v", c.m, got, c.want)
		}
	}
}

// The state folder is found from the environment, and never relative to
// the folder a call happens to run from.
func TestDefaultDir(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env     map[string]string
		want    string
		wantErr string
	}{
		{env: map[string]string{"TASKS_DIR": "/srv/tasks", "HOME": "/home/u"}, want: "/srv/tasks"},
		{env: map[string]string{"TASKS_DIR": "tasks", "HOME": "/home/u"}, wantErr: "not an absolute path"},
		{env: map[string]string{"XDG_STATE_HOME": "/home/u/.state", "HOME": "/home/u"}, want: "/home/u/.state/amp-bg-tasks"},
		{env: map[string]string{"XDG_STATE_HOME": "rel", "HOME": "/home/u"}, want: "/home/u/.local/state/amp-bg-tasks"},
		{env: map[string]string{}, wantErr: "set TASKS_DIR or HOME"},
	} {
		got, err := DefaultDir(func(k string) string { return c.env[k] })
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v: %q, %v; want an error saying %q", c.env, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v: %q, %v; want %q", c.env, got, err, c.want)
		}
	}
}
