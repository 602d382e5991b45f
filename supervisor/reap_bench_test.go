package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	now := time.Now().UTC()
	for i := range 1000 {
		dir := filepath.Join(s.Dir, fmt.Sprintf("task-%d-bench%04d", now.Unix()-int64(1000-i), i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		for name, v := range map[string]string{fileStatus: StatusFailed, fileFinishedAt: now.Add(-time.Minute).Format(TimeLayout),
			fileStartedAt: now.Add(-2 * time.Minute).Format(TimeLayout), fileCommand: "npm test"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		acts, err := s.Reap(context.Background(), ReapOptions{MaxAge: 3 * time.Hour})
		if err != nil || len(acts) != 0 {
			b.Fatalf("%v %+v", err, acts)
		}
	}
}
