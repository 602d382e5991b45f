package toolbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/remotetest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// BenchmarkRemote times tools on a task of another host (a real sshd on
// 127.0.0.1, see remotetest) against the floor, `ssh host true` over the
// same warm master connection: scripts/remote-bench.sh turns them into
// the rows of BENCHMARKS.md.
func BenchmarkRemote(b *testing.B) {
	srv := remotetest.Start(b)
	dist := remotetest.BuildDist(b)
	a := NewAppIn(b.TempDir(), b.TempDir(), tasktest.Environ("BG_SSH="+srv.SSHCommand(), "BG_DIST_DIR="+dist, "XDG_RUNTIME_DIR="), strings.NewReader(""), io.Discard, io.Discard)
	a.Executable = os.Args[0]
	d, err := a.remoteDeployer()
	if err != nil {
		b.Fatal(err)
	}
	ssh := d.Transport.(*remote.SSH)
	b.Cleanup(func() { _ = ssh.Exit(context.Background(), srv.Alias); _ = os.RemoveAll(ssh.ControlDir) })
	ctx := context.Background()
	mustCall := func(tool *Tool, params string) any {
		res, err := a.Call(ctx, tool, []byte(params))
		if err != nil {
			b.Fatalf("%s %s: %v", tool.Name, params, err)
		}
		return res
	}
	// A task with 1,000 lines of output, still running.
	task := mustCall(RunTool(), `{"command": "seq 1 1000; sleep 600", "label": "bench", "host": "`+srv.Alias+`", "wait_for": "^1000$"}`).(RunResult)

	b.Run("ssh_true", func(b *testing.B) {
		for b.Loop() {
			if _, err := ssh.Run(ctx, srv.Alias, "true", nil, io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bg_status", func(b *testing.B) {
		for b.Loop() {
			mustCall(StatusTool(), `{"task_id": "`+task.TaskID+`"}`)
		}
	})
	b.Run("bg_output_tail80", func(b *testing.B) {
		for b.Loop() {
			mustCall(OutputTool(), `{"task_id": "`+task.TaskID+`", "tail": 80, "since": false}`)
		}
	})
	b.Run("since_1000_lines", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			r := mustCall(RunTool(), fmt.Sprintf(`{"command": "seq 1 1000", "host": "%s", "label": "since%d", "wait_seconds": 30}`, srv.Alias, i)).(RunResult)
			b.StartTimer()
			out := mustCall(OutputTool(), `{"task_id": "`+r.TaskID+`", "since": true, "max_lines": 1000}`).(OutputResult)
			if out.StdoutMeta == nil || out.StdoutMeta.TotalLines != 1000 {
				b.Fatalf("since-read: %+v", out.StdoutMeta)
			}
		}
	})
	b.Run("first_call_with_deploy", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			_ = ssh.Exit(ctx, srv.Alias) // Cold: no master, no build there.
			d.Forget(srv.Alias)
			srv.Run(b, "rm -rf ~/"+remote.BinDir)
			b.StartTimer()
			mustCall(StatusTool(), `{"task_id": "`+task.TaskID+`"}`)
		}
	})
}
