package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRecordCache: a record is read again when its folder changed (every
// write renames a file into it) or its status differs, and not otherwise.
// cachedTask makes a store with the folder of task id, and returns what
// sets its files in place (as the original tool does, and a supervisor
// does capture_error) and puts the folder's time back an hour: out of the
// racy window, and unchanged. The files written get a time a minute later
// at each call: each write is a later one, and out of the racy window too.
func cachedTask(t *testing.T, id string) (s Store, dir string, old time.Time, write func(kv ...string)) {
	t.Helper()
	s = Store{Dir: t.TempDir()}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(s.Dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old = time.Now().Add(-time.Hour)
	at := old
	write = func(kv ...string) {
		t.Helper()
		at = at.Add(time.Minute)
		for i := 0; i+1 < len(kv); i += 2 {
			file := filepath.Join(dir, kv[i])
			if err := os.WriteFile(file, []byte(kv[i+1]+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(file, at, at); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return s, dir, old, write
}

func TestRecordCache(t *testing.T) {
	id := "task-1700000000-0000aaaa"
	s, dir, old, write := cachedTask(t, id)
	write(fileStatus, StatusRunning, fileLabel, "a", fileStartedAt, old.UTC().Format(TimeLayout))
	c := NewRecordCache()
	label := func(status string) string {
		t.Helper()
		task, err := c.Load(s, id, status)
		if err != nil {
			t.Fatal(err)
		}
		l := task.Label
		task.Label = "changed by the caller" // A copy: the cache keeps its own.
		return l
	}
	if got := label(StatusRunning); got != "a" {
		t.Fatalf("first load: label %q, want a", got)
	}
	write(fileLabel, "b") // In place, folder unchanged: not seen.
	if got := label(StatusRunning); got != "a" {
		t.Fatalf("unchanged folder and status: label %q, want the remembered a", got)
	}
	write(fileStatus, StatusFailed) // In place, but the status differs.
	if got := label(StatusFailed); got != "b" {
		t.Fatalf("status changed: label %q, want b read again", got)
	}
	if err := writeFiles(dir, fileLabel, "c"); err != nil { // As the supervisor writes.
		t.Fatal(err)
	}
	if got := label(StatusFailed); got != "c" {
		t.Fatalf("folder changed: label %q, want c read again", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(s, id, StatusFailed); err == nil {
		t.Fatal("removed task loaded from the cache")
	}
}

// LoadEnded reads a running task's record whole every time (its
// supervisor writes capture_error in place, which the folder's time does
// not show), and an ended one's once while its folder and status stand.
func TestRecordCacheLoadEnded(t *testing.T) {
	id := "task-1700000000-0000bbbb"
	s, _, old, write := cachedTask(t, id)
	c := NewRecordCache()
	captureError := func() string {
		t.Helper()
		task, err := c.LoadEnded(s, id)
		if err != nil {
			t.Fatal(err)
		}
		return task.CaptureError
	}
	write(fileStatus, StatusRunning, fileStartedAt, old.UTC().Format(TimeLayout), fileCaptureError, "")
	if got := captureError(); got != "" {
		t.Fatalf("capture_error %q, want none yet", got)
	}
	write(fileCaptureError, "stdout: no space left on device")
	if got := captureError(); got != "stdout: no space left on device" {
		t.Fatalf("running: capture_error %q, want the one written in place", got)
	}
	write(fileStatus, StatusFailed)
	if got := captureError(); got != "stdout: no space left on device" {
		t.Fatalf("ended: capture_error %q", got)
	}
	write(fileCaptureError, "changed in place") // Nothing does this to an ended task; the cache does not see it.
	if got := captureError(); got != "stdout: no space left on device" {
		t.Fatalf("ended, unchanged folder and status: capture_error %q, want the remembered one", got)
	}
	write(fileStatus, StatusRunning) // Restarted in place (a full disk's restart).
	if got := captureError(); got != "changed in place" {
		t.Fatalf("running again: capture_error %q, want the record read again", got)
	}
	write(fileStatus, StatusFailed)
	if got := captureError(); got != "changed in place" {
		t.Fatalf("ended again: capture_error %q", got)
	}
	// A restart that ran and ended unseen, on a full disk as the run
	// before: every file written in place, the same status, the folder's
	// time unchanged. Its end wrote the status last.
	write(filePID, "4242", fileCaptureError, "run 2: no space left on device", fileStatus, StatusFailed)
	task, err := c.LoadEnded(s, id)
	if err != nil {
		t.Fatal(err)
	}
	if task.CaptureError != "run 2: no space left on device" || task.Root.PID != 4242 {
		t.Fatalf("a run ended unseen, in place: capture_error %q, pid %d; want run 2's record read again", task.CaptureError, task.Root.PID)
	}
}
