package toolbox

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// fakeFinished writes n finished tasks into dir, ended a minute ago, as
// scripts/bench and scripts/hotpath time them.
func fakeFinished(tb testing.TB, dir string, n int) {
	tb.Helper()
	if err := benchdata.EndedTasks(dir, n, time.Now()); err != nil {
		tb.Fatal(err)
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

// BenchmarkRunningWithLabel1000 is what bg_run with a label does before
// it starts its task, in a store of 1,000 finished tasks: look for a
// running task of that label in that folder.
//
//	go test ./toolbox -run '^$' -bench RunningWithLabel1000
func BenchmarkRunningWithLabel1000(b *testing.B) {
	dir := b.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	fakeFinished(b, dir, 1000)
	a := NewAppIn(dir, b.TempDir(), os.Environ(), nil, nil, nil)
	a.Store.RememberEnded(mustRefs(b, a)) // As a bg_status before it leaves the store.
	for b.Loop() {
		if t := a.runningWithLabel(context.Background(), "dev", "/tmp"); t != nil {
			b.Fatalf("found %s", t.ID)
		}
	}
}

func mustRefs(tb testing.TB, a *App) []supervisor.TaskRef {
	tb.Helper()
	refs, err := a.Store.Refs()
	if err != nil {
		tb.Fatal(err)
	}
	return refs
}
