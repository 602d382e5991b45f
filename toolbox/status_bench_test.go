package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeFinished writes n finished tasks into dir as the supervisor leaves
// them, ended a minute ago (as scripts/bench does).
func fakeFinished(b testing.TB, dir string, n int) {
	b.Helper()
	now := time.Now().UTC()
	for i := range n {
		id := fmt.Sprintf("task-%d-bench%04d", now.Unix()-int64(n-i), i)
		td := filepath.Join(dir, id)
		if err := os.MkdirAll(td, 0o700); err != nil {
			b.Fatal(err)
		}
		for name, v := range map[string]string{
			"command": fmt.Sprintf("npm test -- shard %d\n", i), "label": fmt.Sprintf("shard-%d\n", i),
			"status": "failed\n", "exit_code": "1\n", "cwd": "/home/dev/shop\n",
			"started_at":  now.Add(-2*time.Minute).Format(time.RFC3339) + "\n",
			"finished_at": now.Add(-time.Minute).Format(time.RFC3339) + "\n",
			"stdout":      "PASS src/a.test.ts\nFAIL src/b.test.ts\n", "stderr": "",
		} {
			if err := os.WriteFile(filepath.Join(td, name), []byte(v), 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStatusList1000 is bg_status's list (as an agent calls it,
// notices included) over 1,000 finished tasks, in process: what the
// bg-status row of scripts/bench.sh costs beyond the program's start.
//
//	go test ./toolbox -run '^$' -bench StatusList1000 -cpuprofile /tmp/cpu.out
func BenchmarkStatusList1000(b *testing.B) {
	dir := b.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	fakeFinished(b, dir, 1000)
	a := NewAppIn(dir, b.TempDir(), os.Environ(), nil, nil, nil)
	ctx := WithReader(context.Background(), "bench")
	for b.Loop() {
		if _, err := a.Execute(ctx, StatusTool(), []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
	}
}
