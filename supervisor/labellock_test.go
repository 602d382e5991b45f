package supervisor

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Many starts of one label, each through its own open file (flock holds
// per open file, as between processes): one at a time holds the lock, and
// no lock file is left once they are done, although each unlock removes
// the file others are waiting on.
func TestLockLabelExcludesAndCleansUp(t *testing.T) {
	t.Parallel()
	s := Store{Dir: filepath.Join(t.TempDir(), "tasks")}
	var inside atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				unlock, err := s.LockLabel("web", "/app")
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d held the lock at once", n)
				}
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	left, _ := filepath.Glob(filepath.Join(s.Dir, ".lock-*"))
	if len(left) > 0 {
		t.Errorf("lock files left: %v", left)
	}
}
