// Package benchdata writes the state folders that benchmarks and the
// timing scripts measure: tasks that ended, as a supervisor leaves them,
// and a task whose log is a long dev server's. One writer for all, so that
// the figures of scripts/bench, scripts/hotpath and the Benchmark
// functions are taken on the same data.
//
// It writes only below the folder it is given, starts no process, and
// does not clean up: callers pass a t.TempDir() or a temporary folder.
package benchdata

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// EndedTasks writes n tasks into state that failed a minute before now,
// each with a short log: test shards, as an agent leaves them after a
// day of work. Their ids are one second apart, the newest a second before
// now, so the reaper has nothing to do and bg_status lists the last ones.
func EndedTasks(state string, n int, now time.Time) error {
	now = now.UTC()
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	for i := range n {
		dir := filepath.Join(state, fmt.Sprintf("task-%d-bench%04d", now.Unix()-int64(n-i), i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		err := writeFiles(dir, map[string]string{
			"command": fmt.Sprintf("npm test -- shard %d\n", i), "label": fmt.Sprintf("shard-%d\n", i),
			"status": "failed\n", "exit_code": "1\n", "cwd": "/home/dev/shop\n",
			"started_at":  now.Add(-2*time.Minute).Format(time.RFC3339) + "\n",
			"finished_at": now.Add(-time.Minute).Format(time.RFC3339) + "\n",
			"stdout":      "PASS src/a.test.ts\nFAIL src/b.test.ts\n", "stderr": "",
		})
		if err != nil {
			return err
		}
	}
	return os.Chmod(state, 0o700) // The store trusts only a folder of its owner's alone.
}

// DevServerTask makes dir a completed task (a dev server) whose stdout
// holds size bytes of LogLine lines in 10 MB segments, all kept (as with
// BG_LOG_BACKUPS=0).
func DevServerTask(dir string, size int) error {
	if err := CompletedTask(dir); err != nil {
		return err
	}
	w, err := capture.NewWriter(dir, "stdout", capture.WriterOptions{MaxBytes: 10 << 20, Backups: -1})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for i, n := 0, 0; n < size; i++ {
		k, err := bw.WriteString(LogLine(i))
		if err != nil {
			return errors.Join(err, w.Close())
		}
		n += k
	}
	return errors.Join(bw.Flush(), w.Close())
}

// CompletedTask makes dir the record of a dev server that completed,
// without logs: the caller writes them.
func CompletedTask(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	return writeFiles(dir, map[string]string{"command": "npm run dev\n", "status": "completed\n", "exit_code": "0\n",
		"started_at": "2023-11-14T22:13:20Z\n", "finished_at": "2023-11-14T22:13:20Z\n", "cwd": "/home/dev/shop\n"})
}

// LogLine is line i of a dev server's log: colour codes, long paths, now
// and then a warning or an error.
func LogLine(i int) string {
	switch {
	case i%997 == 0:
		return fmt.Sprintf("\x1b[31mERROR\x1b[39m request %d failed: ECONNREFUSED 127.0.0.1:5432 at /home/dev/shop/node_modules/.pnpm/pg@8.11.3/node_modules/pg/lib/client.js:132:17\n", i)
	case i%50 == 0:
		return fmt.Sprintf("\x1b[33mwarn\x1b[39m slow query %d took %dms\n", i, i%700)
	default:
		return fmt.Sprintf("\x1b[2m2026-11-23T10:%02d:%02d.%03dZ\x1b[22m \x1b[32mGET\x1b[39m /api/products/%d \x1b[32m200\x1b[39m %d.%03d ms - %d\n", i/60%60, i%60, i%1000, i%5000, i%90, i%1000, 1000+i%9000)
	}
}

func writeFiles(dir string, files map[string]string) error {
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			return err
		}
	}
	return nil
}
