package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
)

// Record is what is kept locally of a task started on another host:
// enough to route its id, and to list it when the host does not answer.
type Record struct {
	ID        string    `json:"id"` // the task's id there, and here
	Host      string    `json:"host"`
	Label     string    `json:"label"`
	Command   string    `json:"command"`
	Cwd       string    `json:"cwd"`
	StartedAt time.Time `json:"started_at"`
	// Status is the last one learned; ExitCode with it.
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code,omitempty"`
	// Notify is bg_run's notify parameter ("" : $BG_NOTIFY decides);
	// Notified is set once the desktop was told of its end.
	Notify      string `json:"notify,omitempty"`
	Notified    bool   `json:"notified,omitempty"`
	NotifyError string `json:"notify_error,omitempty"` // why the desktop was not told
}

// Records is the folder of records: <state dir>/remote, one file per
// task id, 0600 in a 0700 folder.
type Records struct{ Dir string }

// RecordsIn returns the records of a state folder.
func RecordsIn(stateDir string) Records { return Records{Dir: filepath.Join(stateDir, "remote")} }

// validID is a task id as the supervisor makes them: a record's name can
// only be a plain file name in the folder.
func validID(id string) bool { return taskid.ValidID(id) == nil }

// Get returns the record of id, or false when id is not a remote task.
func (r Records) Get(id string) (Record, bool) {
	if !validID(id) {
		return Record{}, false
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, id))
	if err != nil {
		return Record{}, false
	}
	var rec Record
	if json.Unmarshal(b, &rec) != nil || rec.Host == "" || rec.ID != id {
		return Record{}, false
	}
	return rec, true
}

// Put writes rec.
func (r Records) Put(rec Record) error {
	if !validID(rec.ID) {
		return fmt.Errorf("record a remote task: invalid id %q", rec.ID)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return fmt.Errorf("record the remote task %s: %w", rec.ID, err)
	}
	return atomicfile.WriteFile(filepath.Join(r.Dir, rec.ID), b, 0o600)
}

// Remove forgets id.
func (r Records) Remove(id string) error {
	if !validID(id) {
		return nil
	}
	if err := os.Remove(filepath.Join(r.Dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forget the remote task %s: %w", id, err)
	}
	return nil
}

// List returns every record, oldest first.
func (r Records) List() []Record {
	ents, _ := os.ReadDir(r.Dir) // None yet: no records.
	var out []Record
	for _, e := range ents {
		if rec, ok := r.Get(e.Name()); ok {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Down is a host's last failure to answer, remembered so that the looks
// made beside other calls (notices, the list) do not wait for it on every
// call.
type Down struct {
	Host  string    `json:"host"`
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}

// MarkDown remembers that host could not be reached at at, and why.
func (r Records) MarkDown(host string, at time.Time, why error) error {
	b, err := json.Marshal(Down{Host: host, At: at.UTC(), Error: why.Error()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return fmt.Errorf("remember that %s is down: %w", host, err)
	}
	return atomicfile.WriteFile(r.downPath(host), b, 0o600)
}

// MarkUp forgets host's last failure: it answered.
func (r Records) MarkUp(host string) {
	_ = os.Remove(r.downPath(host)) // Best effort: mostly there is none.
}

// LastDown returns host's last failure to answer, if one is remembered.
func (r Records) LastDown(host string) (Down, bool) {
	b, err := os.ReadFile(r.downPath(host))
	if err != nil {
		return Down{}, false
	}
	var d Down
	if json.Unmarshal(b, &d) != nil || d.Host != host {
		return Down{}, false
	}
	return d, true
}

// downPath is host's failure file: its name starts with a dot, so that it
// is never taken for a task's record.
func (r Records) downPath(host string) string {
	return filepath.Join(r.Dir, ".down-"+hostFileName(host))
}

// hostFileName names a file after host: what is safe of the name, then a
// hash of all of it (two hosts may share the safe part).
func hostFileName(host string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(host)) // A hash never fails.
	return fmt.Sprintf("%s-%08x", taskid.FileName(host), h.Sum32())
}
