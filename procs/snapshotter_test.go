package procs

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"
)

// A Snapshotter's tables find what fresh ones find: a marked process
// while it runs, and nothing of it once it is gone, when it also forgets
// it (its PID may come back as another process).
func TestSnapshotterSeesWhatSnapshotSees(t *testing.T) {
	t.Parallel()
	const marker = "task-snapshotter-test"
	c, p := startHelper(t, "hang", marker, "ready")
	s := NewSnapshotter()
	ctx := context.Background()
	for i := range 2 { // The second from what it remembers.
		cached, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cached.Marked()[marker], fresh.Marked()[marker]; !slices.Contains(got, p) || !slices.Equal(got, want) {
			t.Fatalf("snapshot %d: marked %v, a fresh snapshot %v; want %v among them", i, got, want, p)
		}
		if got := cached.Tree(p, marker); !slices.Contains(got, p) {
			t.Fatalf("snapshot %d: tree %v lacks %v", i, got, p)
		}
	}
	_ = syscall.Kill(c.Process.Pid, syscall.SIGKILL)
	_ = c.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tab, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		_, remembered := s.known[p]
		s.mu.Unlock()
		if len(tab.Marked()[marker]) == 0 && !remembered {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kill: marked %v, remembered %v", tab.Marked()[marker], remembered)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
