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
//
// fi was read at checked, before the listing: the stamps are the
// folder's as of then.
func (s Store) reapNames(fi fs.FileInfo, checked time.Time, recent int64, remember bool) ([]string, error) {
	store, index := reaplist.Stamps(s.Dir, fi)
	if names, ok := reaplist.Read(s.Dir, store, index, recent); ok {
		return names, nil
	}
	names, oldest, err := s.reapCandidates(s.readEnded(), recent)
	if err == nil && remember && reaplist.Remembered(store, index, checked) {
		s.rememberReapList(reaplist.List{Store: store, Index: index, Oldest: oldest, Names: names})
	}
	return names, err
}

// rememberReapList keeps l for the next reaper, when the store and index
// are still as l was listed under (a change during the listing, in
// another grain of the clock than l's stamps, would make the next reaper
// list anyway; this saves the write). Best effort: the list only saves a
// listing.
func (s Store) rememberReapList(l reaplist.List) {
	fi, err := os.Stat(s.Dir)
	if err != nil {
		return
	}
	if store, index := reaplist.Stamps(s.Dir, fi); store != l.Store || index != l.Index {
		return
	}
	dir := filepath.Join(s.Dir, reaplist.CacheDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return
	}
	if !reaplist.OwnCacheDir(s.Dir) {
		return // Not a folder of ours alone (a symlink?): write nothing there.
	}
	_ = atomicfile.WriteFile(filepath.Join(dir, reaplist.File), reaplist.Format(l), 0o600) // Best effort: see above.
}
