package supervisor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
)

// reapNames lists the names in the store that Reap must look at (see
// reapCandidates): the reap list's, when it holds for this store (fi)
// and recent (see package reaplist), else from a listing, which it
// remembers when remember says it may write.
func (s Store) reapNames(fi fs.FileInfo, recent int64, remember bool) ([]string, error) {
	store, index := reaplist.Stamps(s.Dir, fi)
	if names, ok := reaplist.Read(s.Dir, store, index, recent); ok {
		return names, nil
	}
	names, oldest, err := s.reapCandidates(s.readEnded(), recent)
	if err == nil && remember {
		s.rememberReapList(reaplist.List{Store: store, Index: index, Oldest: oldest, Names: names}, time.Now())
	}
	return names, err
}

// rememberReapList keeps l for the next reaper, when the store and index
// it was listed under have been quiet long enough by the clock now (see
// reaplist.Quiet). Best effort: the list only saves a listing.
func (s Store) rememberReapList(l reaplist.List, now time.Time) {
	if !reaplist.Remembered(l.Store, l.Index, now) {
		return
	}
	dir := filepath.Join(s.Dir, reaplist.CacheDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return
	}
	_ = atomicfile.WriteFile(filepath.Join(dir, reaplist.File), reaplist.Format(l), 0o600) // Best effort: see above.
}
