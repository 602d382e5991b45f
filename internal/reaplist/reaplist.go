//go:build unix

// Package reaplist is the reaper's memory of its last listing of the
// store: the reap list, <state>/.cache/reap-list. The reaper runs on
// every shell start, and most find the store as the last one left it:
// the same task folders, the same ended index, nothing ended long enough
// ago to remove. Listing the store then costs most of the reaper's work
// (a thousand folder entries, each looked up in the index), so the
// reaper (package supervisor) keeps the names it had to look at (running
// tasks, ends the index does not know yet, leftovers) with what it found
// them under: the state folder's stamp, the index file's, and the
// earliest end among the tasks it skipped. A list holds, and stands in
// for a listing, while
//   - the state folder's stamp is unchanged: a task created, removed or
//     moved (a restart) changes its modification time;
//   - the index's stamp is unchanged: an end remembered, or a restart's
//     forgetting, replaces the file;
//   - no task it skipped has become old enough to remove.
//
// A list that holds and names nothing says the reaper has nothing to do,
// which the call client (cmd/bgtask-call) answers without a call: the
// shell's start then costs no more than a small program's (see
// NothingToDo).
//
// The list is a cache, never the record: a missing, unreadable or
// garbled one costs only the listing. This package reads and formats
// lists and decides whether one holds; it does not list the store nor
// write the list (supervisor does both), and it needs no more of the
// standard library than the call client links, which is why it spells
// its paths with "/" rather than importing path/filepath.
package reaplist

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
)

// Names in the state folder.
const (
	// EndedIndex is the store's ended index (see package supervisor).
	EndedIndex = ".ended"
	// CacheDir holds the list: writing the list into the state folder
	// itself would change what it is checked against.
	CacheDir = ".cache"
	// File is the list, in CacheDir.
	File = "reap-list"
)

// DefaultMaxAgeMinutes is bg-reaper's --max-age when none is given:
// three hours.
const DefaultMaxAgeMinutes = 180

// Quiet is how long the state folder and index must have been unchanged
// for a listing to be remembered: a file system's clock has a coarse
// grain (a jiffy, a second or two on some), and a change in the same
// grain as the one a list saw would leave the time it checks unchanged.
const Quiet = 3 * time.Second

const head = "amp-bg-tasks reap-list 1"

// Stamp is what tells a file or folder changed: its identity, its
// modification time, and its size (a file rewritten in place).
type Stamp struct {
	Dev, Ino uint64
	MtimeNs  int64
	Size     int64
}

func stampOf(fi fs.FileInfo) Stamp {
	s := Stamp{MtimeNs: fi.ModTime().UnixNano(), Size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Dev, s.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	return s
}

// List is one listing remembered.
type List struct {
	// Store and Index are the state folder's and the ended index's
	// stamps when it was listed (Index is zero when there was none).
	Store, Index Stamp
	// Oldest is the earliest end (unix seconds) of the tasks the listing
	// skipped as ended recently; 0 when it skipped none.
	Oldest int64
	// Names are those it did not skip, sorted.
	Names []string
}

// Stamps reads the stamps of the state folder dir (whose stat the caller
// has: fi) and of its ended index.
func Stamps(dir string, fi fs.FileInfo) (store, index Stamp) {
	store = stampOf(fi)
	if ifi, err := os.Lstat(dir + "/" + EndedIndex); err == nil {
		index = stampOf(ifi)
	}
	return store, index
}

// Read returns the names of the list of the state folder dir, when it is
// one for these stamps and still holds for recent: the tasks that ended
// at or after recent (unix seconds) are the ones a listing skips. A
// cache folder that is not a folder of the caller's own, closed to
// others, holds no list (see OwnCacheDir).
func Read(dir string, store, index Stamp, recent int64) ([]string, bool) {
	if !OwnCacheDir(dir) {
		return nil, false
	}
	data, err := smallfile.Read(dir+"/"+CacheDir+"/"+File, 4<<10, 16<<20)
	if err != nil {
		return nil, false
	}
	l, ok := Parse(data)
	if !ok || l.Store != store || l.Index != index || (l.Oldest != 0 && recent > l.Oldest) {
		return nil, false
	}
	return l.Names, true
}

// OwnCacheDir reports whether the cache folder of the state folder dir
// is a folder (not a symlink) of the caller's own that no one else may
// write: a list from anywhere else could hide tasks from the reaper.
func OwnCacheDir(dir string) bool {
	fi, err := os.Lstat(dir + "/" + CacheDir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// Remembered reports whether a listing under these stamps may be
// remembered: whether both had been quiet (see Quiet) when they were
// read, at stamped. The time is the reading's, not the writing's: a
// reaper held up between the two (stopped, suspended, a loaded box) must
// not remember a listing that missed a change made in the same grain of
// the clock as the stamps it read.
func Remembered(store, index Stamp, stamped time.Time) bool {
	quiet := stamped.Add(-Quiet).UnixNano()
	return store.MtimeNs <= quiet && index.MtimeNs <= quiet
}

// NothingToDo reports whether the reaper, run now with maxAge on the
// state folder dir, would find nothing to do without listing it: there
// is no state folder, or its list holds and names nothing. It never says
// so of a folder the reaper would refuse (not the caller's own, or
// writable by others: the reaper's error says why), nor when it cannot
// tell.
func NothingToDo(dir string, maxAge time.Duration, now time.Time) bool {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return false
	}
	store, index := Stamps(dir, fi)
	names, ok := Read(dir, store, index, now.Add(-maxAge).Unix())
	return ok && len(names) == 0
}

// Parse parses a list; false when it is not one, whole.
func Parse(data []byte) (List, bool) {
	var l List
	body, ok := strings.CutSuffix(string(data), "\nend\n")
	if !ok {
		return l, false // Cut short, or damaged.
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 4 || lines[0] != head {
		return l, false
	}
	if l.Store, ok = parseStamp(lines[1], "store "); !ok {
		return l, false
	}
	if l.Index, ok = parseStamp(lines[2], "index "); !ok {
		return l, false
	}
	v, ok := strings.CutPrefix(lines[3], "oldest ")
	if !ok {
		return l, false
	}
	var err error
	if l.Oldest, err = strconv.ParseInt(v, 10, 64); err != nil || l.Oldest < 0 {
		return l, false
	}
	for _, name := range lines[4:] {
		// Names the state folder itself could hold: nothing that leads
		// out of it.
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return l, false
		}
		l.Names = append(l.Names, name)
	}
	return l, true
}

func parseStamp(line, prefix string) (Stamp, bool) {
	v, ok := strings.CutPrefix(line, prefix)
	f := strings.Fields(v)
	if !ok || len(f) != 4 {
		return Stamp{}, false
	}
	var st Stamp
	var e [4]error
	st.Dev, e[0] = strconv.ParseUint(f[0], 10, 64)
	st.Ino, e[1] = strconv.ParseUint(f[1], 10, 64)
	st.MtimeNs, e[2] = strconv.ParseInt(f[2], 10, 64)
	st.Size, e[3] = strconv.ParseInt(f[3], 10, 64)
	return st, e[0] == nil && e[1] == nil && e[2] == nil && e[3] == nil
}

func (s Stamp) format(b []byte) []byte {
	b = strconv.AppendUint(b, s.Dev, 10)
	b = append(strconv.AppendUint(append(b, ' '), s.Ino, 10), ' ')
	b = append(strconv.AppendInt(b, s.MtimeNs, 10), ' ')
	return strconv.AppendInt(b, s.Size, 10)
}

// Format is l as its file holds it.
func Format(l List) []byte {
	b := append([]byte(head), "\nstore "...)
	b = append(l.Store.format(b), "\nindex "...)
	b = append(l.Index.format(b), "\noldest "...)
	b = append(strconv.AppendInt(b, l.Oldest, 10), '\n')
	for _, n := range l.Names {
		b = append(append(b, n...), '\n')
	}
	return append(b, "end\n"...)
}
