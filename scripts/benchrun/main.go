// Command benchrun measures the core runtime as users meet it: the latency
// of a bg-run call as a whole process (exec to JSON printed), and the
// resident memory of a task's supervisor while its command is idle and
// while it writes as fast as it can.
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
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/bgtask").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	for _, n := range []string{"bg-run", "bg-stop", "bg-status"} {
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
	var lat []time.Duration
	for range *runs {
		res, took, err := call("bg-run", `{"command":"true","timeout":1}`)
		if err != nil {
			return err
		}
		lat = append(lat, took)
		_ = res
	}
	fmt.Printf("bg-run latency (exec to JSON printed), %d runs: %s\n", *runs, summary(lat))

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
