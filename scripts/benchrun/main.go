// Command benchrun measures the tools as users meet them, each call a whole
// process: bg-run latency (exec to JSON printed); the resident memory of a
// task's supervisor while its command is idle and while it writes as fast
// as it can; bg-reaper's nothing-to-do path and bg-status with 50 tasks;
// bg-output on a 60 MB log in six segments (tail, incremental read, full
// filtered scan).
//
//	go run ./scripts/benchrun [-runs 50] [-seconds 5]
//
// It builds bgtask into a temporary folder, uses a temporary state folder,
// and stops every task it starts.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/shirou/gopsutil/v3/process"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run() error {
	runs := flag.Int("runs", 50, "bg-run calls to time")
	seconds := flag.Float64("seconds", 5, "how long to sample the supervisor's memory in each state")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "benchrun-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // Best effort.
	bin := filepath.Join(tmp, "bgtask")
	// Built as the installer builds it.
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/bgtask").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	for _, n := range []string{"bg-run", "bg-stop", "bg-status", "bg-output", "bg-reaper"} {
		if err := os.Symlink(bin, filepath.Join(tmp, n)); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "TASKS_DIR="+filepath.Join(tmp, "state"), "BG_NOTIFY=never")
	call := func(tool, input string) (map[string]any, time.Duration, error) {
		cmd := exec.Command(filepath.Join(tmp, tool))
		cmd.Env = append(env, "TOOLBOX_ACTION=execute")
		cmd.Stdin = strings.NewReader(input)
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		if err != nil {
			return nil, took, fmt.Errorf("%s: %v: %s", tool, err, out)
		}
		var res map[string]any
		return res, took, json.Unmarshal(out, &res)
	}
	stop := func(id string) { _, _, _ = call("bg-stop", `{"task_id":"`+id+`"}`) }

	machine()
	// bg-run latency: a quick command, so tasks end by themselves.
	// Each call alone, as an agent makes them: the previous task has
	// ended and its supervisor exited, so the two do not share the CPUs.
	var lat []time.Duration
	for range *runs {
		waitAllEnded(filepath.Join(tmp, "state"))
		_, took, err := call("bg-run", `{"command":"true","timeout":1}`)
		if err != nil {
			return err
		}
		lat = append(lat, took)
	}
	fmt.Printf("bg-run latency (exec to JSON printed), %d runs: %s\n", *runs, summary(lat))

	// The tasks above have ended: the reaper's everyday path, nothing to do.
	waitAllEnded(filepath.Join(tmp, "state"))
	var reapT, statusT []time.Duration
	for range *runs {
		start := time.Now()
		cmd := exec.Command(filepath.Join(tmp, "bg-reaper"), "--max-age", "180")
		cmd.Env = env
		out, err := cmd.Output()
		reapT = append(reapT, time.Since(start))
		if err != nil || len(out) > 0 {
			return fmt.Errorf("bg-reaper with nothing to do: %v %q", err, out)
		}
		_, took, err := call("bg-status", `{}`)
		if err != nil {
			return err
		}
		statusT = append(statusT, took)
	}
	fmt.Printf("bg-reaper, %d finished tasks, nothing to do, %d runs: %s\n", *runs, *runs, summary(reapT))
	fmt.Printf("bg-status listing %d tasks, %d runs: %s\n", *runs, *runs, summary(statusT))
	if err := benchOutput(tmp, env, *runs); err != nil {
		return err
	}

	for _, c := range []struct{ name, command string }{
		{"idle (command sleeps)", "sleep 600"},
		{"flood (command: yes, 10 MB segments rotating)", `yes "2026-11-23T10:00:00Z INFO GET /api/products 200 12ms - a typical dev server log line"`},
	} {
		res, _, err := call("bg-run", fmt.Sprintf(`{"command":%q,"timeout":10}`, c.command))
		if err != nil {
			return err
		}
		id := res["task_id"].(string)
		wd, err := os.ReadFile(filepath.Join(tmp, "state", id, "watchdog_pid"))
		if err != nil {
			stop(id)
			return err
		}
		var pid int32
		fmt.Sscan(string(wd), &pid)
		p, err := process.NewProcess(pid)
		if err != nil {
			stop(id)
			return err
		}
		time.Sleep(500 * time.Millisecond) // Let it settle into the state measured.
		var rss []float64
		deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
		for time.Now().Before(deadline) {
			if mi, err := p.MemoryInfoWithContext(context.Background()); err == nil {
				rss = append(rss, float64(mi.RSS)/(1<<20))
			}
			time.Sleep(100 * time.Millisecond)
		}
		size := dirSize(filepath.Join(tmp, "state", id))
		stop(id)
		slices.Sort(rss)
		fmt.Printf("supervisor RSS %s: median %.1f MB, max %.1f MB over %d samples (task folder %.0f MB at the end)\n",
			c.name, rss[len(rss)/2], rss[len(rss)-1], len(rss), float64(size)/(1<<20))
	}
	fmt.Println("rerun: go run ./scripts/benchrun")
	return nil
}

// waitAllEnded waits until no task in state is running.
func waitAllEnded(state string) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ents, _ := os.ReadDir(state)
		running := 0
		for _, e := range ents {
			if b, _ := os.ReadFile(filepath.Join(state, e.Name(), "status")); strings.TrimSpace(string(b)) == "running" {
				running++
			}
		}
		if running == 0 {
			time.Sleep(20 * time.Millisecond) // The supervisor exits just after recording.
			return
		}
	}
}

// benchOutput times bg-output on a 60 MB log in six 10 MB segments, as a
// whole process: tail=80, an incremental read of 1,000 new lines, and a
// full filtered scan.
func benchOutput(tmp string, env []string, runs int) error {
	id := "task-1700000000-bench"
	dir := filepath.Join(tmp, "state", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, v := range map[string]string{"command": "bench", "status": "completed", "started_at": "2023-11-14T22:13:20Z", "finished_at": "2023-11-14T22:13:20Z", "cwd": "/home/dev/shop", "exit_code": "0"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			return err
		}
	}
	// Exactly 60 MB: five rotated 10 MB segments and a full current file.
	w, err := capture.NewWriter(dir, "stdout", capture.WriterOptions{MaxBytes: 10 << 20, Backups: 5})
	if err != nil {
		return err
	}
	line := func(i int) string {
		switch {
		case i%997 == 0:
			return fmt.Sprintf("\x1b[31mERROR\x1b[39m request %d failed: ECONNREFUSED 127.0.0.1:5432 at /home/dev/shop/node_modules/.pnpm/pg@8.11.3_pg-native@3.0.1/node_modules/pg/lib/client.js:132:17\n", i)
		case i%50 == 0:
			return fmt.Sprintf("\x1b[33mwarn\x1b[39m slow query %d took %dms\n", i, i%700)
		default:
			return fmt.Sprintf("\x1b[2m2026-11-23T10:%02d:%02d.%03dZ\x1b[22m \x1b[32mGET\x1b[39m /api/products/%d \x1b[32m200\x1b[39m %d.%03d ms - %d\n", i/60%60, i%60, i%1000, i%5000, i%90, i%1000, 1000+i%9000)
		}
	}
	var b strings.Builder
	i := 0
	for written := 0; written < 60<<20; {
		b.Reset()
		for b.Len() < 1<<20 {
			b.WriteString(line(i))
			i++
		}
		chunk := []byte(b.String())
		chunk = chunk[:min(len(chunk), 60<<20-written)]
		n, err := w.Write(chunk)
		if err != nil {
			return err
		}
		written += n
	}
	names, _ := filepath.Glob(filepath.Join(dir, "stdout*"))
	fmt.Printf("bg-output on a 60 MB log in %d files (%d lines):\n", len(names), i)
	timeOut := func(name, input string, before func() error) ([]time.Duration, error) {
		var ts []time.Duration
		for range runs {
			if before != nil {
				if err := before(); err != nil {
					return nil, err
				}
			}
			cmd := exec.Command(filepath.Join(tmp, "bg-output"))
			cmd.Env = append(env, "TOOLBOX_ACTION=execute")
			cmd.Stdin = strings.NewReader(input)
			start := time.Now()
			out, err := cmd.Output()
			ts = append(ts, time.Since(start))
			if err != nil {
				return nil, fmt.Errorf("%s: %v %s", name, err, out)
			}
		}
		fmt.Printf("  %s, %d runs: %s\n", name, runs, summary(ts))
		return ts, nil
	}
	if _, err := timeOut("tail=80", `{"task_id":"`+id+`","tail":80,"stream":"stdout"}`, nil); err != nil {
		return err
	}
	// Prime the cursor, then each run reads 1,000 new lines.
	if _, err := timeOut("first since read (newest 80)", `{"task_id":"`+id+`","stream":"stdout"}`, nil); err != nil {
		return err
	}
	appendLines := func() error {
		b.Reset()
		for range 1000 {
			b.WriteString(line(i))
			i++
		}
		_, err := w.Write([]byte(b.String()))
		return err
	}
	if _, err := timeOut("since read of 1,000 new lines", `{"task_id":"`+id+`","stream":"stdout"}`, appendLines); err != nil {
		return err
	}
	scans, err := timeOut("full scan since=false filter=error|warn", `{"task_id":"`+id+`","stream":"stdout","since":false,"filter":"error|warn"}`, nil)
	if err != nil {
		return err
	}
	slices.Sort(scans)
	var onDisk int64
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil {
			onDisk += fi.Size()
		}
	}
	fmt.Printf("  full filtered scan throughput (median, whole process): %.0f MB/s over %.0f MB\n",
		float64(onDisk)/(1<<20)/scans[len(scans)/2].Seconds(), float64(onDisk)/(1<<20))
	return w.Close()
}

func summary(d []time.Duration) string {
	slices.Sort(d)
	ms := func(x time.Duration) string { return fmt.Sprintf("%.1f ms", float64(x.Microseconds())/1000) }
	return fmt.Sprintf("median %s, p90 %s, min %s, max %s", ms(d[len(d)/2]), ms(d[len(d)*9/10]), ms(d[0]), ms(d[len(d)-1]))
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// machine prints what the figures were measured on.
func machine() {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			if k, v, ok := strings.Cut(string(l), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := exec.Command("uname", "-sr").Output()
	fmt.Printf("machine: %d CPUs, %s, %s, %s\n", runtime.NumCPU(), model, strings.TrimSpace(string(kernel)), runtime.Version())
}
