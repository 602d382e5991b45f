package toolbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// BenchmarkOutputTail80 is bg_output tail=80 of a 60 MB log (six 10 MB
// segments), in process: what the tail=80 row of scripts/hotpath costs
// beyond the program's start (process) or the call's round trip (server,
// which remembers an ended task's record).
//
//	go test ./toolbox -run '^$' -bench OutputTail80 -cpuprofile /tmp/cpu.out
func BenchmarkOutputTail80(b *testing.B) {
	dir := b.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	id := "task-1700000000-log60"
	if err := benchdata.DevServerTask(filepath.Join(dir, id), 60<<20); err != nil {
		b.Fatal(err)
	}
	old := time.Now().Add(-time.Minute) // Ended a minute ago, as the benchmark's task is.
	if err := os.Chtimes(filepath.Join(dir, id), old, old); err != nil {
		b.Fatal(err)
	}
	in := []byte(`{"task_id":"` + id + `","stream":"stdout","tail":80,"since":false}`)
	for _, bc := range []struct {
		name    string
		records *supervisor.RecordCache
	}{{"process", nil}, {"server", supervisor.NewRecordCache()}} {
		b.Run(bc.name, func(b *testing.B) {
			a := NewAppIn(dir, b.TempDir(), os.Environ(), nil, nil, nil)
			a.Records = bc.records // The call server's remembers records across calls.
			ctx := WithReader(context.Background(), "bench")
			for b.Loop() {
				if _, err := a.Execute(ctx, OutputTool(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
