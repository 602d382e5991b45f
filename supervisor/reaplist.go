package supervisor

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
)

// The reaper runs on every shell start, and most find the store as the
// last one left it: the same folders, the same ended index, nothing
// ended long enough ago to be removed. Listing the store then costs most
// of the reaper's work (a thousand directory entries, each looked up in
// the index), so the reaper keeps what its last listing found, the reap
// list (<state>/.cache/reap-list): the names it had to look at (running
// tasks, tasks the index does not know ended, leftovers), with what they
// were found under: the store folder's identity and modification time,
// the index file's, and the earliest end among the tasks it skipped. The
// next reaper uses the list instead of listing while all of these hold:
//   - the folder's modification time is unchanged: a task created,
//     removed or moved (a restart) changes it;
//   - the index file is unchanged: an end remembered or a restart's
//     forgetting replaces it;
//   - no task it skipped has become old enough to remove.
//
// The list is a cache, never the record: a missing, unreadable or
// garbled one costs only the listing. It lives in a folder of its own,
// since writing it into the store folder would change what it is checked
// against. A listing is remembered only once the store has not changed
// for listQuiet: a file system's clock has a coarse grain (a jiffy, a
// second or two on some), and a change in the same grain as the one the
// list saw would leave the time it checks unchanged.
const (
	cacheDir     = ".cache"
	reapListFile = "reap-list"
	listQuiet    = 3 * time.Second
	reapListHead = "amp-bg-tasks reap-list 1"
)

// fileStamp is what tells a file or folder changed: its identity and
// modification time, and its size (a file replaced in place).
type fileStamp struct {
	dev, ino uint64
	mtimeNs  int64
	size     int64
}

func stampOf(fi fs.FileInfo) fileStamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{mtimeNs: fi.ModTime().UnixNano(), size: fi.Size()}
	}
	return fileStamp{dev: uint64(st.Dev), ino: uint64(st.Ino), mtimeNs: fi.ModTime().UnixNano(), size: fi.Size()}
}

func (f fileStamp) String() string {
	return strconv.FormatUint(f.dev, 10) + " " + strconv.FormatUint(f.ino, 10) + " " +
		strconv.FormatInt(f.mtimeNs, 10) + " " + strconv.FormatInt(f.size, 10)
}

// reapList is one listing remembered: what the store and index were,
// the earliest end (unix seconds) of the tasks skipped (0: none), and the
// names that were not.
type reapList struct {
	store, index fileStamp
	oldest       int64
	names        []string
}

// stamps are the store folder's stamp (fi, read by the caller's check)
// and the index's (zero when there is none).
func (s Store) stamps(fi fs.FileInfo) (store, index fileStamp) {
	store = stampOf(fi)
	if ifi, err := os.Lstat(filepath.Join(s.Dir, endedIndexFile)); err == nil {
		index = stampOf(ifi)
	}
	return store, index
}

// readReapList returns the remembered listing, if it is one for these
// stamps and still holds for recent (unix seconds: the tasks that ended
// at or after it are skipped).
func (s Store) readReapList(store, index fileStamp, recent int64) ([]string, bool) {
	data, err := smallfile.Read(filepath.Join(s.Dir, cacheDir, reapListFile), 4<<10, 16<<20)
	if err != nil {
		return nil, false
	}
	l, ok := parseReapList(data)
	if !ok || l.store != store || l.index != index || (l.oldest != 0 && recent > l.oldest) {
		return nil, false
	}
	return l.names, true
}

// parseReapList parses a reap list; false when it is not one whole.
func parseReapList(data []byte) (reapList, bool) {
	var l reapList
	body, ok := bytes.CutSuffix(data, []byte("\nend\n"))
	if !ok {
		return l, false // Cut short: written by a version that did not rename it into place, or damaged.
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) < 4 || lines[0] != reapListHead {
		return l, false
	}
	if l.store, ok = parseStamp(lines[1], "store "); !ok {
		return l, false
	}
	if l.index, ok = parseStamp(lines[2], "index "); !ok {
		return l, false
	}
	v, ok := strings.CutPrefix(lines[3], "oldest ")
	if !ok {
		return l, false
	}
	var err error
	if l.oldest, err = strconv.ParseInt(v, 10, 64); err != nil || l.oldest < 0 {
		return l, false
	}
	for _, name := range lines[4:] {
		// Names the store itself could hold, nothing that leads out of it.
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return l, false
		}
		l.names = append(l.names, name)
	}
	return l, true
}

func parseStamp(line, prefix string) (fileStamp, bool) {
	v, ok := strings.CutPrefix(line, prefix)
	f := strings.Fields(v)
	if !ok || len(f) != 4 {
		return fileStamp{}, false
	}
	var st fileStamp
	var errs [4]error
	st.dev, errs[0] = strconv.ParseUint(f[0], 10, 64)
	st.ino, errs[1] = strconv.ParseUint(f[1], 10, 64)
	st.mtimeNs, errs[2] = strconv.ParseInt(f[2], 10, 64)
	st.size, errs[3] = strconv.ParseInt(f[3], 10, 64)
	return st, errors.Join(errs[:]...) == nil
}

func formatReapList(l reapList) []byte {
	var b bytes.Buffer
	b.WriteString(reapListHead + "\n")
	b.WriteString("store " + l.store.String() + "\n")
	b.WriteString("index " + l.index.String() + "\n")
	b.WriteString("oldest " + strconv.FormatInt(l.oldest, 10) + "\n")
	for _, n := range l.names {
		b.WriteString(n + "\n")
	}
	b.WriteString("end\n")
	return b.Bytes()
}

// rememberReapList keeps l for the next reaper, when the store and index
// it was listed under have been quiet long enough (see listQuiet) by the
// clock now. Best effort: the list only saves a listing.
func (s Store) rememberReapList(l reapList, now time.Time) {
	quiet := now.Add(-listQuiet).UnixNano()
	if l.store.mtimeNs > quiet || l.index.mtimeNs > quiet {
		return
	}
	dir := filepath.Join(s.Dir, cacheDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return
	}
	_ = atomicfile.WriteFile(filepath.Join(dir, reapListFile), formatReapList(l), 0o600) // Best effort: see above.
}
