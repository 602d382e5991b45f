package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readTime reads a time with one read when the file is short, and the
// whole file otherwise: what follows a time past the first read still
// spoils it, as it does for every other record.
func TestReadTime(t *testing.T) {
	when := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	stamp := when.Format(TimeLayout)
	for _, tc := range []struct {
		name    string
		content string // "" with missing: no file
		missing bool
		want    time.Time
	}{
		{name: "time and newline", content: stamp + "\n", want: when},
		{name: "spaces around", content: "  " + stamp + " \n", want: when},
		{name: "fills the first read, spaces only", content: stamp + strings.Repeat(" ", 64-len(stamp)), want: when},
		{name: "longer than the first read, spaces only", content: stamp + strings.Repeat(" ", 200) + "\n", want: when},
		{name: "junk past the first read", content: stamp + strings.Repeat(" ", 100) + "x\n", want: time.Time{}},
		{name: "not a time", content: "yesterday\n", want: time.Time{}},
		{name: "empty", content: "", want: time.Time{}},
		{name: "missing", missing: true, want: time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if !tc.missing {
				if err := os.WriteFile(filepath.Join(dir, fileFinishedAt), []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := readTime(dir, fileFinishedAt); !got.Equal(tc.want) {
				t.Errorf("readTime(%q) = %v, want %v", tc.content, got, tc.want)
			}
		})
	}
	// The first of the names that holds a time.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, fileStartedAt), []byte(stamp+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readTime(dir, fileFinishedAt, fileStartedAt); !got.Equal(when) {
		t.Errorf("readTime falling back to started_at = %v, want %v", got, when)
	}
}

// The reaper reads finished_at before it checks the folder, but still
// acts on no record of a folder it does not trust: a finished task's
// folder writable by others is left, and cleaned once it is the owner's
// alone.
func TestReapCleansOnlyTrustedFolders(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	mk := func(id string, finished time.Time) string {
		dir := filepath.Join(s.Dir, id)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{fileStatus: StatusFailed, fileFinishedAt: finished.Format(TimeLayout),
			fileStartedAt: finished.Add(-time.Minute).Format(TimeLayout)} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	old := mk("task-1700000000-0000aaaa", now.Add(-10*time.Hour))
	recent := mk("task-1700000001-0000bbbb", now.Add(-time.Minute))
	for _, dir := range []string{old, recent} {
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	reap := func() []ReapAction {
		t.Helper()
		acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: 3 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return acts
	}
	if acts := reap(); len(acts) != 0 {
		t.Fatalf("reaped in folders writable by others: %+v", acts)
	}
	for _, dir := range []string{old, recent} {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	acts := reap()
	if len(acts) != 1 || acts[0].Action != ActionClean || acts[0].Task.ID != filepath.Base(old) {
		t.Fatalf("want the old task cleaned alone, got %+v", acts)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Fatalf("recent task: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("old task still there: %v", err)
	}
}

func TestAgeUnderAMinuteIsInSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Second: "24s", 0: "0s", 90 * time.Second: "1m", 3 * time.Hour: "180m"} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
}
