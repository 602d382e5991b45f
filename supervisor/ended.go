package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
)

// The ended index is the store's memory of tasks that have ended: one
// file, <state>/.ended, a line "<id> <status> <finished_at unix seconds>"
// per task. An ended task's record does not change again, except through
// Store.Restart, which takes the index's lock and drops the task from it
// before the folder stops saying so. So the listings that run on every
// tool call and every shell start (Refs, Reap) read one file for the
// tasks they know ended instead of one file per task: with a thousand
// tasks kept, a thousand opens fewer.
//
// The index is a cache, never the record: a missing, unreadable or
// garbled index (or one line of it) costs only the reads it would have
// saved. Entries are added by whoever lists a task it finds ended, under
// the lock and after reading its status again, so a restart in between
// is never remembered as an end. Ids whose folders are gone are dropped
// on the next write.
const (
	endedIndexFile = reaplist.EndedIndex
	endedLockFile  = ".ended.lock"
)

// endedEntry is what the index knows of one ended task.
type endedEntry struct {
	Status     string
	FinishedAt time.Time // zero when the task recorded no end time
}

// endedIndex is the index as read: its bytes and, sorted by id, where
// each line's fields are. It is made for the shell-start path: a
// thousand tasks cost two allocations, not a map of a thousand strings
// (whose memory, each page touched for the first time, was most of what
// the reaper's no-work path cost over the program's own start).
type endedIndex struct {
	data  []byte
	lines []endedLine
}

type endedLine struct {
	off           uint32 // the id's first byte in data
	idLen, stLen  uint8  // the status follows the id and a space
	finishedAtSec int64  // 0: no end time recorded
}

func (l endedLine) id(data []byte) []byte { return data[l.off : l.off+uint32(l.idLen)] }

func (l endedLine) status(data []byte) []byte {
	at := l.off + uint32(l.idLen) + 1
	return data[at : at+uint32(l.stLen)]
}

// readEnded returns the index; an empty one when there is none or it
// cannot be read.
func (s Store) readEnded() endedIndex {
	data, err := smallfile.ReadSized(filepath.Join(s.Dir, endedIndexFile), 64<<20)
	if err != nil {
		return endedIndex{}
	}
	return parseEnded(data)
}

// parseEnded parses the index's lines; it never fails, it skips lines
// that do not parse.
func parseEnded(data []byte) endedIndex {
	x := endedIndex{data: data, lines: make([]endedLine, 0, bytes.Count(data, []byte{'\n'})+1)}
	sorted := true
	for off := 0; off < len(data); {
		line := data[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if l, ok := parseEndedLine(line); ok && off <= math.MaxUint32-len(line) {
			l.off = uint32(off)
			if n := len(x.lines); n > 0 && bytes.Compare(x.lines[n-1].id(data), l.id(data)) >= 0 {
				sorted = false
			}
			x.lines = append(x.lines, l)
		}
		off += len(line) + 1
	}
	if !sorted { // Written by hand, or by another version: sort it here.
		slices.SortStableFunc(x.lines, func(a, b endedLine) int { return bytes.Compare(a.id(data), b.id(data)) })
		x.lines = slices.CompactFunc(x.lines, func(a, b endedLine) bool { return bytes.Equal(a.id(data), b.id(data)) })
	}
	return x
}

// parseEndedLine parses "<id> <status> <seconds>"; off is left to the
// caller.
func parseEndedLine(line []byte) (endedLine, bool) {
	id, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || !taskid.Valid(id) {
		return endedLine{}, false
	}
	status, secs, ok := bytes.Cut(rest, []byte{' '})
	if !ok || !endedStatus(status) {
		return endedLine{}, false
	}
	n, ok := atoiBytes(secs)
	if !ok {
		return endedLine{}, false
	}
	return endedLine{idLen: uint8(len(id)), stLen: uint8(len(status)), finishedAtSec: n}, true
}

// atoiBytes parses 1 to 18 decimal digits.
func atoiBytes(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// find returns the line of id (id is not kept: a string converted for
// the call costs no allocation).
func (x endedIndex) find(id []byte) (endedLine, bool) {
	lo, hi := 0, len(x.lines)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(x.lines[mid].id(x.data), id); {
		case c == 0:
			return x.lines[mid], true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return endedLine{}, false
}

// statusOf returns a line's status, without an allocation for the
// statuses the supervisor writes.
func (x endedIndex) statusOf(l endedLine) string {
	b := l.status(x.data)
	for _, st := range []string{StatusCompleted, StatusFailed, StatusKilled, StatusTimeout, StatusReaped} {
		if string(b) == st {
			return st
		}
	}
	return string(b)
}

// finishedAt returns a line's end time, zero when none was recorded.
func (l endedLine) finishedAt() time.Time {
	if l.finishedAtSec == 0 {
		return time.Time{}
	}
	return time.Unix(l.finishedAtSec, 0).UTC()
}

// entries returns the index as a map, to change it.
func (x endedIndex) entries() map[string]endedEntry {
	out := make(map[string]endedEntry, len(x.lines))
	for _, l := range x.lines {
		out[string(l.id(x.data))] = endedEntry{Status: x.statusOf(l), FinishedAt: l.finishedAt()}
	}
	return out
}

// endedStatus reports whether status is one a task ends with: a word of
// lowercase letters, '_' or '-', neither empty nor "running".
func endedStatus[T string | []byte](status T) bool {
	if len(status) == 0 || len(status) > 32 || string(status) == StatusRunning {
		return false
	}
	for i := 0; i < len(status); i++ {
		if c := status[i]; (c < 'a' || c > 'z') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// formatEnded writes the index's lines, sorted by id so that the file is
// stable.
func formatEnded(idx map[string]endedEntry) []byte {
	ids := make([]string, 0, len(idx))
	for id := range idx {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b bytes.Buffer
	for _, id := range ids {
		e := idx[id]
		secs := int64(0)
		if !e.FinishedAt.IsZero() {
			secs = e.FinishedAt.Unix()
		}
		fmt.Fprintf(&b, "%s %s %d\n", id, e.Status, secs)
	}
	return b.Bytes()
}

// lockEnded takes the index's lock (an flock on a file that is never
// removed; the kernel drops it if its holder dies).
func (s Store) lockEnded() (unlock func(), err error) {
	path := filepath.Join(s.Dir, endedLockFile)
	for {
		fd, err := lockFile(path)
		if err != nil {
			return nil, fmt.Errorf("lock the ended index: %w", err)
		}
		if fd >= 0 {
			return func() { _ = syscall.Close(fd) }, nil // Closing releases the lock.
		}
	}
}

// rememberEnded adds the tasks of ids that have ended to the index, and
// drops the ids that are not in present (their folders are gone). Each
// id's status is read again under the lock: what a listing saw before
// may have been restarted since. Best effort: the index only saves
// reads, so a failure to write it is not the caller's concern.
func (s Store) rememberEnded(ids []string, present func(id string) bool) {
	unlock, err := s.lockEnded()
	if err != nil {
		return
	}
	defer unlock()
	idx := s.readEnded().entries()
	changed := false
	for id := range idx {
		if !present(id) {
			delete(idx, id)
			changed = true
		}
	}
	for _, id := range ids {
		if _, ok := idx[id]; ok {
			continue // Added by another listing meanwhile: ends do not change while indexed (forgetEnded).
		}
		dir := filepath.Join(s.Dir, id)
		status := readSmall(filepath.Join(dir, fileStatus))
		if !endedStatus(status) {
			continue
		}
		idx[id] = endedEntry{Status: status, FinishedAt: endedAt(dir, readTime(dir, fileFinishedAt))}
		changed = true
	}
	if changed {
		_ = s.writeEnded(idx) // Best effort: see above.
	}
}

// writeEnded replaces the index with idx, atomically.
func (s Store) writeEnded(idx map[string]endedEntry) error {
	return atomicfile.WriteFile(filepath.Join(s.Dir, endedIndexFile), formatEnded(idx), 0o600)
}

// forgetEnded takes the index's lock and drops id from the index. The
// caller holds the lock (until unlock) while the task's folder stops
// saying it ended, so no listing can put it back meanwhile.
func (s Store) forgetEnded(id string) (unlock func(), err error) {
	unlock, err = s.lockEnded()
	if err != nil {
		return nil, err
	}
	x := s.readEnded()
	if _, ok := x.find([]byte(id)); !ok {
		return unlock, nil
	}
	idx := x.entries()
	delete(idx, id)
	if err := s.writeEnded(idx); err != nil {
		// Removing it is the one thing that must not fail: an index
		// that keeps it would show the restarted task as ended.
		if rmErr := os.Remove(filepath.Join(s.Dir, endedIndexFile)); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			unlock()
			return nil, fmt.Errorf("forget %s in the ended index: %w", id, errors.Join(err, rmErr))
		}
	}
	return unlock, nil
}

// presentNow lists the store again, for rememberEnded's pruning (a path
// taken once per newly ended task, not on every listing).
func (s Store) presentNow() func(string) bool {
	ids, _ := s.listIDs(false) // Best effort: an id not seen is dropped, and added again when next seen ended.
	return presentIn(ids)
}
