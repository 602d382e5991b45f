package supervisor

import (
	"os"
	"path/filepath"
	"sync"
	"time"
)

// RecordCache remembers task records for a caller that loads the same
// tasks again and again (bgtask top lists every second): a record is
// about twenty small files, and with 200 tasks reading them all made most
// of top's idle CPU.
//
// A record is read again when its folder changed, its status file was
// written again, or its status differs from the one the caller just read
// (Refs). Every record file is written by renaming a new file into the
// folder (writeFiles), which sets the folder's modification time. On a
// full disk the supervisor writes in place instead, but every run ends by
// writing its status, which sets the status file's time: a run that
// started and ended unseen, on a full disk, with the status it had
// before, is caught by that time. Only other files rewritten in place,
// with no status written after them (by the original tool or by hand),
// go unseen until the folder changes.
type RecordCache struct {
	mu sync.Mutex
	m  map[string]cachedRecord
}

type cachedRecord struct {
	status string
	mtime  time.Time // the folder's
	smtime time.Time // the status file's
	task   Task
}

// racyWindow: a record whose folder changed this recently may be being
// written still, in the same tick of the file system's clock as our read
// of the folder's time, so it is not remembered (as git does with racily
// clean files).
const racyWindow = time.Second

// NewRecordCache returns a cache that remembers no record yet.
func NewRecordCache() *RecordCache { return &RecordCache{m: map[string]cachedRecord{}} }

// Load is s.Load(id) for a task whose status file was just read as
// status, from the cache when the task's folder has not changed since.
// It returns a copy the caller may change.
func (c *RecordCache) Load(s Store, id, status string) (*Task, error) {
	dir, err := s.Path(id)
	if err != nil {
		return nil, err
	}
	// The folder's time is read before the record, so a write that comes
	// during the read gives the folder a later time: read again next time.
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || trusted(dir, fi) != nil {
		c.forget(id)
		return s.Load(id) // Its error says what is wrong.
	}
	var smtime time.Time // Zero when there is none: the record says so.
	if sfi, err := os.Lstat(filepath.Join(dir, fileStatus)); err == nil {
		smtime = sfi.ModTime()
	}
	c.mu.Lock()
	r, ok := c.m[id]
	c.mu.Unlock()
	if ok && r.status == status && r.mtime.Equal(fi.ModTime()) && r.smtime.Equal(smtime) {
		t := r.task
		return &t, nil
	}
	t, err := s.Load(id)
	if err != nil {
		c.forget(id)
		return nil, err
	}
	if t.Status == status && time.Since(fi.ModTime()) > racyWindow && time.Since(smtime) > racyWindow {
		c.mu.Lock()
		c.m[id] = cachedRecord{status: status, mtime: fi.ModTime(), smtime: smtime, task: *t}
		c.mu.Unlock()
	}
	return t, nil
}

func (c *RecordCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// LoadEnded is s.Load(id), from the cache when the task has ended and its
// folder has not changed since its record was remembered. A running
// task's record is read whole every time: its supervisor writes some of
// it in place (capture_error), which the folder's time does not show.
// An ended task's record no longer changes but through a restart (the
// folder is replaced, or its status written again, in place on a full
// disk) or a full disk's end (its status written last, in place).
func (c *RecordCache) LoadEnded(s Store, id string) (*Task, error) {
	dir, err := s.Path(id)
	if err != nil {
		return nil, err
	}
	if status := readSmall(filepath.Join(dir, fileStatus)); endedStatus(status) {
		return c.Load(s, id, status)
	}
	return s.Load(id)
}
