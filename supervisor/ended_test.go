package supervisor

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// writeEnded makes a finished task folder as the supervisor leaves it.
func writeEnded(t *testing.T, s Store, id, status string, finished time.Time) {
	t.Helper()
	dir := filepath.Join(s.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(dir, fileCommand, "true", fileFinishedAt, finished.UTC().Format(TimeLayout), fileStatus, status); err != nil {
		t.Fatal(err)
	}
}

func refStatuses(t *testing.T, s Store) map[string]string {
	t.Helper()
	refs, err := s.Refs()
	if err != nil {
		t.Fatal(err)
	}
	s.RememberEnded(refs) // As bg_status does.
	out := map[string]string{}
	for _, r := range refs {
		out[r.ID] = r.Status
	}
	return out
}

// A listing remembers the tasks it finds ended, with their end times, and
// forgets those whose folders are gone; a running task is never in it.
func TestEndedIndexRemembersEnds(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	end := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	writeEnded(t, s, "task-1700000000-aaaa0001", StatusFailed, end)
	writeEnded(t, s, "task-1700000001-aaaa0002", StatusCompleted, end.Add(time.Minute))
	running := filepath.Join(s.Dir, "task-1700000002-aaaa0003")
	if err := os.MkdirAll(running, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(running, fileStatus, StatusRunning); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"task-1700000000-aaaa0001": StatusFailed, "task-1700000001-aaaa0002": StatusCompleted, "task-1700000002-aaaa0003": StatusRunning}
	for round := range 2 { // The first from the folders, the second from the index.
		if got := refStatuses(t, s); !maps.Equal(got, want) {
			t.Fatalf("round %d: refs %v, want %v", round, got, want)
		}
	}
	idx := s.readEnded().entries()
	if len(idx) != 2 || idx["task-1700000000-aaaa0001"] != (endedEntry{StatusFailed, end}) ||
		idx["task-1700000001-aaaa0002"] != (endedEntry{StatusCompleted, end.Add(time.Minute)}) {
		t.Fatalf("index %v", idx)
	}
	if err := os.RemoveAll(filepath.Join(s.Dir, "task-1700000000-aaaa0001")); err != nil {
		t.Fatal(err)
	}
	writeEnded(t, s, "task-1700000003-aaaa0004", StatusKilled, end)
	refStatuses(t, s)
	idx = s.readEnded().entries()
	if _, ok := idx["task-1700000000-aaaa0001"]; ok || len(idx) != 2 || idx["task-1700000003-aaaa0004"].Status != StatusKilled {
		t.Fatalf("after a removal and a new end, index %v", idx)
	}
}

// A restart takes the task out of the index before the task runs, and
// listings running alongside never put it back: once restarted, every
// listing says running.
func TestEndedIndexRestartIsNeverListedEnded(t *testing.T) {
	t.Parallel()
	s, task := startTask(t, helpers.Shell("crash-times", filepath.Join(t.TempDir(), "runs"), "1"), RestartPolicy{})
	var cur *Task
	// Until the first supervisor is gone: its finish hook (TestMain's)
	// appends to a file in the task's folder after the end is recorded,
	// which a restart's empty folder must not catch.
	poll(t, 30*time.Second, "the first run's supervisor did not finish", func() bool {
		cur, _ = s.Load(task.ID)
		ev, _ := os.ReadFile(filepath.Join(task.Dir, "events"))
		return cur != nil && cur.Status == StatusFailed && strings.Contains(string(ev), "finished") && !procs.Alive(context.Background(), task.Watchdog)
	})
	if got := refStatuses(t, s)[task.ID]; got != StatusFailed {
		t.Fatalf("listed %q before the restart", got)
	}
	if s.readEnded().entries()[task.ID].Status != StatusFailed {
		t.Fatalf("index %v: the ended task is not in it", s.readEnded().entries())
	}
	// Listings race the restart.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if refs, err := s.Refs(); err == nil {
						s.RememberEnded(refs)
					}
				}
			}
		}()
	}
	restarted, err := s.Restart(context.Background(), cur, RestartRequest{Env: os.Environ()})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if restarted.Status != StatusRunning {
		t.Fatalf("restarted as %s", restarted.Status)
	}
	if _, ok := s.readEnded().find([]byte(task.ID)); ok {
		t.Fatalf("index %v still holds the restarted task", s.readEnded().entries())
	}
	for range 3 {
		if got := refStatuses(t, s)[task.ID]; got != StatusRunning {
			t.Fatalf("listed %q after the restart, want running", got)
		}
	}
}

// A garbled index costs reads, never a wrong listing: its bad lines are
// skipped, and the next write replaces them.
func TestEndedIndexSkipsGarbage(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	writeEnded(t, s, "task-1700000000-aaaa0001", StatusFailed, time.Unix(1700000100, 0))
	garbage := "task-1700000000-aaaa0001 running 5\n../escape failed 1\ntask-1700000009-bbbb0001 failed x\nnot a line\n\x00\xff\n"
	if err := os.WriteFile(filepath.Join(s.Dir, endedIndexFile), []byte(garbage), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := refStatuses(t, s); !maps.Equal(got, map[string]string{"task-1700000000-aaaa0001": StatusFailed}) {
		t.Fatalf("refs %v", got)
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir, endedIndexFile))
	if string(b) != "task-1700000000-aaaa0001 failed 1700000100\n" {
		t.Fatalf("index rewritten as %q", b)
	}
}

// The reaper's no-work path knows ended tasks from the index: a recent
// end is left alone, an old one is still cleaned.
func TestEndedIndexReap(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	now := time.Now().UTC()
	writeEnded(t, s, "task-1700000000-aaaa0001", StatusFailed, now.Add(-time.Minute))
	writeEnded(t, s, "task-1700000001-aaaa0002", StatusCompleted, now.Add(-48*time.Hour))
	acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: 24 * time.Hour})
	if err != nil || len(acts) != 1 || acts[0].Action != ActionClean || acts[0].Task.ID != "task-1700000001-aaaa0002" {
		t.Fatalf("first reap: %v %v", acts, err)
	}
	idx := s.readEnded().entries()
	if len(idx) != 1 || idx["task-1700000000-aaaa0001"].Status != StatusFailed {
		t.Fatalf("the reaper left the index %v, want the recent end in it", idx)
	}
	acts, err = s.Reap(context.Background(), ReapOptions{MaxAge: 24 * time.Hour})
	if err != nil || len(acts) != 0 {
		t.Fatalf("second reap: %v %v", acts, err)
	}
	// Later, the same task is past the age: the index's end time says so.
	acts, err = s.Reap(context.Background(), ReapOptions{MaxAge: 24 * time.Hour, Now: func() time.Time { return now.Add(25 * time.Hour) }})
	if err != nil || len(acts) != 1 || acts[0].Task.ID != "task-1700000000-aaaa0001" {
		t.Fatalf("reap a day later: %v %v", acts, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "task-1700000000-aaaa0001")); !os.IsNotExist(err) {
		t.Fatalf("not removed: %v", err)
	}
}

func FuzzParseEnded(f *testing.F) {
	f.Add([]byte("task-1700000000-aaaa0001 failed 1700000100\n"))
	f.Add([]byte("task-2 failed 1\ntask-1 killed 0\ntask-1 failed 3\nx y z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := parseEnded(data)
		idx := x.entries()
		if len(idx) != len(x.lines) {
			t.Fatalf("%q: %d lines but %d ids", data, len(x.lines), len(idx))
		}
		for id, e := range idx {
			if taskid.ValidID(id) != nil || !endedStatus(e.Status) {
				t.Fatalf("parsed %q -> %q %+v", data, id, e)
			}
			if l, ok := x.find([]byte(id)); !ok || x.statusOf(l) != e.Status {
				t.Fatalf("%q: find(%q) = %v, %v", data, id, l, ok)
			}
		}
		again := parseEnded(formatEnded(idx)).entries()
		if len(again) != len(idx) {
			t.Fatalf("round trip: %v -> %v", idx, again)
		}
		for id, e := range idx {
			if again[id] != e {
				t.Fatalf("round trip %q: %+v -> %+v", id, e, again[id])
			}
		}
	})
}
