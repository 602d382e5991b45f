package supervisor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// aheadFolders lists the folders made ahead in the state folder dir.
func aheadFolders(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, preparedPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// storeWithAFolderAhead is a store with PreparedFolders after a burst of
// two starts' ids (no task started) and a Fill: one folder made ahead,
// whose path it returns.
func storeWithAFolderAhead(t *testing.T) (Store, string) {
	t.Helper()
	s := Store{Dir: t.TempDir(), Prepared: NewPreparedFolders()}
	t.Cleanup(s.Prepared.Close)
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for range 2 { // A burst: a second start soon after the first asks for one.
		if _, _, _, err := s.newID(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Prepared.Fill()
	ahead := aheadFolders(t, s.Dir)
	if len(ahead) != 1 {
		t.Fatalf("folders made ahead: %q, want one", ahead)
	}
	return s, ahead[0]
}

// folderFiles reads every file of a task's folder, by name.
func folderFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// A start takes the folder made ahead, and its task's folder is what it
// would have been without: the same files, none left empty that a start
// writes, with a spare supervisor or one started for the task.
func TestPreparedStartWritesEveryFile(t *testing.T) {
	if !renameNoReplaceWorks {
		t.Skip("no folder is made ahead on this platform")
	}
	for _, withSpare := range []bool{false, true} {
		t.Run(map[bool]string{false: "started supervisor", true: "spare"}[withSpare], func(t *testing.T) {
			t.Parallel()
			var s Store
			var sp *Spares
			if withSpare {
				s, sp, _ = spareStore(t, os.Environ())
			} else {
				s = Store{Dir: t.TempDir()}
			}
			s.Prepared = NewPreparedFolders()
			t.Cleanup(s.Prepared.Close)
			start := func(command string) *Task {
				t.Helper()
				task, err := s.Start(context.Background(), Request{Command: command, Cwd: t.TempDir(), Env: os.Environ()})
				if err != nil {
					t.Fatal(err)
				}
				end := waitEnded(t, s, task.ID)
				// Its supervisor's last words, after the status: the
				// folder is whole once they are written.
				poll(t, 30*time.Second, task.ID+"'s supervisor to finish", func() bool {
					b, _ := os.ReadFile(filepath.Join(end.Dir, "events"))
					return bytes.Contains(b, []byte("finished"))
				})
				return end
			}
			fill := func() {
				s.Prepared.Fill()
				if sp != nil {
					sp.Fill()
				}
			}
			made := start("echo made") // Nothing made ahead yet.
			fill()
			// One start is no burst (a script with a state folder of its
			// own, removed once answered): nothing is made after it.
			if got := aheadFolders(t, s.Dir); len(got) != 0 {
				t.Fatalf("folders made ahead after one start: %q", got)
			}
			start("echo again")
			fill()
			ahead := aheadFolders(t, s.Dir)
			if len(ahead) != 1 {
				t.Fatalf("after Fill, folders made ahead: %q, want one", ahead)
			}
			prepared := start("echo prepared")
			if got := aheadFolders(t, s.Dir); len(got) != 0 {
				t.Fatalf("the start did not take the folder made ahead: %q left", got)
			}
			if prepared.Command != "echo prepared" || prepared.Status != StatusCompleted || prepared.Root.PID <= 0 || prepared.Watchdog.PID <= 0 {
				t.Fatalf("the task started in the folder made ahead: %+v", prepared)
			}
			want, got := folderFiles(t, made.Dir), folderFiles(t, prepared.Dir)
			names := func(m map[string][]byte) []string {
				return slices.Sorted(func(yield func(string) bool) {
					for k := range m {
						if !yield(k) {
							return
						}
					}
				})
			}
			if !slices.Equal(names(want), names(got)) {
				t.Fatalf("files: %q made, %q prepared", names(want), names(got))
			}
			for name, b := range got {
				if len(b) == 0 && len(want[name]) != 0 {
					t.Errorf("%s: left empty in the folder made ahead (%q without it)", name, want[name])
				}
			}
			if out := got["stdout"]; !bytes.HasPrefix(out, []byte("prepared")) {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

// A folder made ahead is never used once it is old enough for a reaper
// to take it for a start that died: the start makes its own, and the
// next Fill removes the old one and makes another.
func TestAnOldPreparedFolderIsNotUsed(t *testing.T) {
	if !renameNoReplaceWorks {
		t.Skip("no folder is made ahead on this platform")
	}
	t.Parallel()
	s, ahead := storeWithAFolderAhead(t)
	old := []string{ahead}
	s.Prepared.mu.Lock()
	f := s.Prepared.m[s.Dir]
	f.made = f.made.Add(-preparedFresh)
	s.Prepared.m[s.Dir] = f
	s.Prepared.mu.Unlock()
	_, _, staging, err := s.newID(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(staging); len(ents) != 0 {
		t.Fatalf("the start used the old folder made ahead: its staging holds %d files", len(ents))
	}
	if got := aheadFolders(t, s.Dir); !slices.Equal(got, old) {
		t.Fatalf("folders made ahead after the start: %q, want the old one %q still", got, old)
	}
	s.Prepared.Fill()
	got := aheadFolders(t, s.Dir)
	if len(got) != 1 || got[0] == old[0] {
		t.Fatalf("after Fill: %q; want one, not the old %q", got, old)
	}
	s.Prepared.Close()
	if got := aheadFolders(t, s.Dir); len(got) != 0 {
		t.Fatalf("after Close: %q left", got)
	}
	s.Prepared.Fill()
	if got := aheadFolders(t, s.Dir); len(got) != 0 {
		t.Fatalf("a Fill after Close made %q", got)
	}
}

// A folder made ahead by a server that died is removed by the reaper
// once it is a minute old, as any staging folder a start left.
func TestTheReaperRemovesAnOldPreparedFolder(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path, err := prepareStaging(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	reap := func() {
		t.Helper()
		if _, err := s.Reap(context.Background(), ReapOptions{MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	reap()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a young folder made ahead: %v", err)
	}
	old := time.Now().Add(-stagingGrace - time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	reap()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("an old folder made ahead is still there: %v", err)
	}
}

// A folder made ahead that is no longer as it was made is not used (a
// trial's findings: a FIFO hung the start, a symbolic link sent the
// record elsewhere, a planted file joined the task's record), and the
// next Fill removes it, never what a link points to.
func TestATamperedPreparedFolderIsNotUsed(t *testing.T) {
	if !renameNoReplaceWorks {
		t.Skip("no folder is made ahead on this platform")
	}
	elsewhere := t.TempDir()
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, path string)
	}{
		{"a FIFO for a file", func(t *testing.T, path string) {
			if err := os.Remove(filepath.Join(path, fileStatus)); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(filepath.Join(path, fileStatus), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symbolic link for a file", func(t *testing.T, path string) {
			if err := os.Remove(filepath.Join(path, filePID)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(elsewhere, "pid"), filepath.Join(path, filePID)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a file planted", func(t *testing.T, path string) {
			if err := os.WriteFile(filepath.Join(path, "stdout"), []byte("planted\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symbolic link for the folder", func(t *testing.T, path string) {
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"a folder others may write", func(t *testing.T, path string) {
			if err := os.Chmod(path, 0o777); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, path := storeWithAFolderAhead(t)
			ahead := []string{path}
			c.tamper(t, path)
			_, _, staging, err := s.newID(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(staging); err != nil || !fi.IsDir() {
				t.Fatalf("staging %s: %v, %v", staging, fi, err)
			}
			if ents, _ := os.ReadDir(staging); len(ents) != 0 {
				t.Fatalf("the start took the tampered folder: its staging holds %d files", len(ents))
			}
			s.Prepared.Fill()
			if _, err := os.Lstat(ahead[0]); !os.IsNotExist(err) {
				t.Errorf("the tampered folder is still there after Fill: %v", err)
			}
			if _, err := os.Stat(elsewhere); err != nil {
				t.Errorf("what a link pointed to was removed: %v", err)
			}
		})
	}
}
