package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
)

// quietStore makes the store, and its ended index, look unchanged for a
// minute, as a store is between most shell starts (see listQuiet).
func quietStore(t *testing.T, s Store, mtime time.Time) {
	t.Helper()
	for _, p := range []string{s.Dir, filepath.Join(s.Dir, endedIndexFile)} {
		if err := os.Chtimes(p, mtime, mtime); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

func reapList1(t *testing.T, s Store, o ReapOptions) []ReapAction {
	t.Helper()
	acts, err := s.Reap(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

func reapListExists(s Store) bool {
	_, err := os.Stat(filepath.Join(s.Dir, reaplist.CacheDir, reaplist.File))
	return err == nil
}

// A reaper that finds the store quiet remembers what it had to look at,
// and the next one uses that instead of listing the store, until the
// store folder changes, the ended index changes, or a task it skipped is
// old enough to remove (see package reaplist). A task folder planted while the folder's time is
// put back is what tells a listing from the list: only a listing sees it.
func TestTheReaperRemembersAQuietStoresListing(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	now := time.Now().UTC()
	writeEnded(t, s, "task-1700000000-aaaa0001", StatusFailed, now.Add(-time.Minute))
	writeEnded(t, s, "task-1700000001-aaaa0002", StatusCompleted, now.Add(-2*time.Minute))
	if err := os.Mkdir(filepath.Join(s.Dir, ".notices"), 0o700); err != nil { // As bg_status makes it.
		t.Fatal(err)
	}
	day := ReapOptions{MaxAge: 24 * time.Hour}
	if acts := reapList1(t, s, day); len(acts) != 0 { // Learns both ends: the index is written.
		t.Fatalf("first reap: %v", acts)
	}
	if reapListExists(s) {
		t.Fatal("a store changed a moment ago was remembered: a change in the same tick of its clock would go unseen")
	}
	quiet := now.Add(-time.Minute)
	quietStore(t, s, quiet)
	reapList1(t, s, day)
	if !reapListExists(s) {
		t.Fatal("a quiet store's listing was not remembered")
	}
	quietStore(t, s, quiet) // Making the cache folder changed it.
	reapList1(t, s, day)
	// The store's own folders are nothing the reaper looks at: the list
	// of a store of ended tasks alone names nothing, which is what lets
	// the call client answer a shell's reaper (reaplist.NothingToDo).
	if data, err := os.ReadFile(filepath.Join(s.Dir, reaplist.CacheDir, reaplist.File)); err != nil {
		t.Fatal(err)
	} else if l, ok := reaplist.Parse(data); !ok || len(l.Names) != 0 {
		t.Fatalf("the reap list of a store of ended tasks: %q (parsed: %v), want no names", data, ok)
	}
	if !reaplist.NothingToDo(s.Dir, day.MaxAge, now) {
		t.Fatal("the reap list of a store of ended tasks does not say there is nothing to do")
	}
	old := "task-1600000000-bbbb0001"
	plant := func() {
		writeEnded(t, s, old, StatusFailed, now.Add(-48*time.Hour))
		quietStore(t, s, quiet)
	}
	plant()
	if acts := reapList1(t, s, day); len(acts) != 0 {
		t.Fatalf("the reaper listed a store whose folder and index are as it remembered them: %v", acts)
	}

	// The store folder changes (a task created or removed).
	if err := os.Chtimes(s.Dir, quiet.Add(time.Second), quiet.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if acts := reapList1(t, s, day); len(acts) != 1 || acts[0].Task.ID != old {
		t.Fatalf("after the store folder changed: %v, want %s removed", acts, old)
	}

	// The index changes (an end remembered, a restart's forgetting), the
	// folder's time put back.
	quietStore(t, s, quiet)
	reapList1(t, s, day)
	plant()
	if err := s.writeEnded(s.readEnded().entries()); err != nil { // A new file, as every write.
		t.Fatal(err)
	}
	if err := os.Chtimes(s.Dir, quiet, quiet); err != nil {
		t.Fatal(err)
	}
	if acts := reapList1(t, s, day); len(acts) != 1 || acts[0].Task.ID != old {
		t.Fatalf("after the index changed: %v, want %s removed", acts, old)
	}

	// A day later, the tasks the list skipped are old enough to remove.
	quietStore(t, s, quiet)
	reapList1(t, s, day)
	later := day
	later.Now = func() time.Time { return now.Add(25 * time.Hour) }
	acts := reapList1(t, s, later)
	var removed []string
	for _, a := range acts {
		removed = append(removed, a.Task.ID)
	}
	slices.Sort(removed)
	if want := []string{"task-1700000000-aaaa0001", "task-1700000001-aaaa0002"}; !slices.Equal(removed, want) {
		t.Fatalf("a day later: removed %q, want %q", removed, want)
	}
}

// A dry run writes no list, and a list that is not whole or names
// anything outside the store is no list: the reaper lists instead.
func TestTheReaperListsPastABadList(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	now := time.Now().UTC()
	writeEnded(t, s, "task-1700000000-aaaa0001", StatusFailed, now.Add(-time.Minute))
	day := ReapOptions{MaxAge: 24 * time.Hour}
	reapList1(t, s, day)
	quiet := now.Add(-time.Minute)
	quietStore(t, s, quiet)
	reapList1(t, s, ReapOptions{MaxAge: 24 * time.Hour, DryRun: true})
	if reapListExists(s) {
		t.Fatal("a dry run wrote the reap list")
	}
	reapList1(t, s, day)
	quietStore(t, s, quiet)
	reapList1(t, s, day)
	path := filepath.Join(s.Dir, reaplist.CacheDir, reaplist.File)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := "task-1600000000-bbbb0001"
	for _, bad := range []string{
		strings.TrimSuffix(string(good), "end\n"),         // cut short
		string(good[:len(good)-4]) + "../x\nend\n",        // a name outside the store
		strings.Replace(string(good), "store ", "st ", 1), // another format
	} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		writeEnded(t, s, old, StatusFailed, now.Add(-48*time.Hour))
		quietStore(t, s, quiet)
		if acts := reapList1(t, s, day); len(acts) != 1 || acts[0].Task.ID != old {
			t.Fatalf("with the list %q: %v, want %s removed", bad, acts, old)
		}
	}
}

// A listing is remembered only if the store was quiet when its stamps
// were read, whatever the time when the list is written: a reaper held up
// between the two (stopped, a laptop's sleep, a loaded box) must not
// remember a listing that may have missed a change made in the same
// grain of the file system's clock as the stamps it read (helper-22's
// trial: an orphan hidden from every later reaper on 1-second
// timestamps). Nor is a list read from, or written into, a cache folder
// that is a symlink: another user could plant a list there.
func TestTheReaperRemembersOnlyWhatItSawQuiet(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	now := time.Now().UTC()
	writeEnded(t, s, "task-1700000000-aaaa0001", StatusFailed, now.Add(-time.Minute))
	day := ReapOptions{MaxAge: 24 * time.Hour}
	reapList1(t, s, day) // Learns the end: writes the index.
	if err := os.Mkdir(filepath.Join(s.Dir, reaplist.CacheDir), 0o700); err != nil {
		t.Fatal(err)
	}
	quiet := now.Add(-time.Minute)
	quietStore(t, s, quiet)
	fi, err := os.Stat(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// Stamps read a second after the store's last change: not quiet
	// then, though long past by the time the list would be written.
	if _, err := s.reapNames(fi, quiet.Add(time.Second), now.Add(-day.MaxAge).Unix(), true); err != nil {
		t.Fatal(err)
	}
	if reapListExists(s) {
		t.Fatal("a listing whose stamps were read within the quiet time was remembered")
	}
	reapList1(t, s, day)
	if !reapListExists(s) {
		t.Fatal("a quiet store's listing was not remembered")
	}

	// The cache folder replaced by a symlink to a folder holding a list
	// that names nothing under the store's stamps.
	list, err := os.ReadFile(filepath.Join(s.Dir, reaplist.CacheDir, reaplist.File))
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, reaplist.File), list, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.Dir, reaplist.CacheDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(s.Dir, reaplist.CacheDir)); err != nil {
		t.Fatal(err)
	}
	old := "task-1600000000-bbbb0001"
	writeEnded(t, s, old, StatusFailed, now.Add(-48*time.Hour))
	quietStore(t, s, quiet) // The planted list's stamps hold.
	if reaplist.NothingToDo(s.Dir, day.MaxAge, now) {
		t.Error("a list behind a symlinked cache folder says there is nothing to do")
	}
	if acts := reapList1(t, s, day); len(acts) != 1 || acts[0].Task.ID != old {
		t.Fatalf("with the cache folder a symlink: %v, want %s removed", acts, old)
	}
	planted := []byte("planted\n")
	if err := os.WriteFile(filepath.Join(elsewhere, reaplist.File), planted, 0o600); err != nil {
		t.Fatal(err)
	}
	quietStore(t, s, quiet) // A reaper that would remember its listing.
	reapList1(t, s, day)
	if got, err := os.ReadFile(filepath.Join(elsewhere, reaplist.File)); err != nil || string(got) != string(planted) {
		t.Errorf("the reaper wrote through the symlinked cache folder: %q, %v", got, err)
	}
}
