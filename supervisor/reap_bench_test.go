package supervisor

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
)

// BenchmarkReapNoWork is the reaper's everyday path, run on every shell
// start: 1,000 tasks that ended a minute ago, nothing to do.
//
//	go test ./supervisor -run '^$' -bench ReapNoWork -cpuprofile /tmp/cpu.out
func BenchmarkReapNoWork(b *testing.B) {
	s := Store{Dir: b.TempDir()}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := benchdata.EndedTasks(s.Dir, 1000, time.Now()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: 3 * time.Hour})
		if err != nil || len(acts) != 0 {
			b.Fatalf("%v %+v", err, acts)
		}
	}
}
