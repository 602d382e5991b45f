package supervisor

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
)

// BenchmarkReapNoWork is the reaper's everyday path, run on every shell
// start: 1,000 tasks that ended a minute ago, nothing to do, the store
// unchanged since the last reaper (which remembered its listing: see
// reaplist.go).
//
//	go test ./supervisor -run '^$' -bench ReapNoWork -cpuprofile /tmp/cpu.out
func BenchmarkReapNoWork(b *testing.B) { benchReapNoWork(b, time.Now().Add(-time.Minute)) }

// BenchmarkReapNoWorkListed is the same path in a store that changed a
// moment ago, which the reaper lists every time.
func BenchmarkReapNoWorkListed(b *testing.B) { benchReapNoWork(b, time.Now().Add(time.Hour)) }

// benchReapNoWork times the no-work path in a store whose folder and
// ended index were last changed at mtime.
func benchReapNoWork(b *testing.B, mtime time.Time) {
	s := Store{Dir: b.TempDir()}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := benchdata.EndedTasks(s.Dir, 1000, time.Now()); err != nil {
		b.Fatal(err)
	}
	reap := func() {
		acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: 3 * time.Hour})
		if err != nil || len(acts) != 0 {
			b.Fatalf("%v %+v", err, acts)
		}
	}
	// The first reaper learns the ends (writes the index), the next one
	// makes the cache folder, and the one after remembers its listing
	// when the store was quiet.
	for range 3 {
		reap()
		for _, p := range []string{s.Dir, s.Dir + "/" + endedIndexFile} {
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		reap()
	}
}
