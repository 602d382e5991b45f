// Command hotpath measures the calls that agents and shells make most
// (the reaper on every shell start, bg_status, bg_output tail=80, bg_run)
// for the lean bgtask-tool of two commits side by side, against a bare Go
// program that prints {}:
//
//	go run ./scripts/hotpath [-rounds 150] [-before REV] [-after REV] [-resident=false]
//
// The commits are built from a temporary git worktree each (the default
// after is the working tree itself, uncommitted changes included), static
// and -trimpath as scripts/install.sh builds them. Each round runs every
// command once, in turn, so that a load that comes and goes on a shared
// machine weighs on all of them alike; the report gives each command's
// median and 10th percentile wall time, its CPU time (user+system, which
// other processes inflate less), and each as a ratio to the bare program.
// scripts/bench.sh times one commit against the goals; this compares two.
//
// With -resident (the default) and a build that has cmd/bgtask-call, the
// same calls are also timed through the resident call server: the
// entries link to bgtask-call, and a server of that build (started here,
// ended here by its pid) answers them.
//
// It does not stop anything it did not start, and keeps everything in a
// temporary folder it removes unless -keep asks to keep it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
)

func main() {
	rounds := flag.Int("rounds", 150, "runs of each command, in turn")
	before := flag.String("before", "", "git revision of the 'before' build (empty: no before column)")
	after := flag.String("after", "", "git revision of the 'after' build (empty: the working tree)")
	keep := flag.Bool("keep", false, "keep the builds and state folders, and print where they are (to profile a call with perf or strace)")
	resident := flag.Bool("resident", true, "also time the calls through the resident call server, for builds that have one")
	flag.Parse()
	if err := run(*rounds, *before, *after, *keep, *resident); err != nil {
		fmt.Fprintln(os.Stderr, "hotpath:", err)
		os.Exit(1)
	}
}

// command is one timed process: argv, extra environment, stdin file.
type command struct {
	name  string
	argv  []string
	env   []string
	stdin string
	// settle is a pause after the command, untimed: bg_run leaves a
	// supervisor that records its task's end and exits just after, which
	// would otherwise weigh on the next command timed.
	settle time.Duration
}

func run(rounds int, before, after string, keep, resident bool) error {
	tmp, err := os.MkdirTemp("", "hotpath-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Printf("\nbuilds and state folders kept in %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bare, err := buildBare(tmp)
	if err != nil {
		return err
	}
	builds := map[string]string{}
	for _, b := range []struct{ label, rev string }{{"before", before}, {"after", after}} {
		if b.label == "before" && b.rev == "" {
			continue
		}
		bin, err := buildLean(tmp, b.label, b.rev)
		if err != nil {
			return err
		}
		builds[b.label] = bin
	}
	cmds := []command{{name: "bare Go program", argv: []string{bare}}}
	for _, label := range []string{"before", "after"} {
		bin, ok := builds[label]
		if !ok {
			continue
		}
		c, err := toolCommands(tmp, label, bin)
		if err != nil {
			return err
		}
		cmds = append(cmds, c...)
	}
	paired := len(cmds) // The before and after rows, paired below; the call server's come after them.
	for _, label := range []string{"before", "after"} {
		bin, ok := builds[label]
		if !ok || !resident {
			continue
		}
		entries, stop, err := startResident(tmp, label, bin)
		if err != nil {
			return err
		}
		if entries == "" {
			continue // This build has no call server.
		}
		defer stop()
		c, err := toolCommands(tmp, label+" via the call server", entries)
		if err != nil {
			return err
		}
		cmds = append(cmds, c[1:]...) // Not --version: it is no call.
	}
	// Calls that write (a first bg_status remembers what it saw) settle
	// before timing.
	for _, c := range cmds {
		for range 3 {
			if _, _, err := runOnce(c); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
	}
	wall := make([][]float64, len(cmds))
	cpu := make([][]float64, len(cmds))
	for range rounds {
		for i, c := range cmds {
			w, u, err := runOnce(c)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			wall[i], cpu[i] = append(wall[i], w), append(cpu[i], u)
			time.Sleep(c.settle)
		}
	}
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("%d rounds on %s, %s, load average at the end: %s\n\n", rounds, host, time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	fmt.Println("| command | median | ratio | p10 | ratio | CPU (median) | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	bw, bp, bc := quantile(wall[0], .5), quantile(wall[0], .1), quantile(cpu[0], .5)
	for i, c := range cmds {
		w, p, u := quantile(wall[i], .5), quantile(wall[i], .1), quantile(cpu[i], .5)
		fmt.Printf("| %s | %.2f ms | %.2fx | %.2f ms | %.2fx | %.2f ms | %.2fx |\n", c.name, w, w/bw, p, p/bp, u, u/bc)
	}
	// After against before, row by row (the same call, the same round).
	if _, ok := builds["before"]; ok {
		n := (paired - 1) / 2
		fmt.Println("\n| call | after/before, median | p10 | CPU |")
		fmt.Println("|---|---:|---:|---:|")
		for i := 1; i <= n; i++ {
			b, a := i, i+n
			name, _ := strings.CutPrefix(cmds[b].name, "before: ")
			fmt.Printf("| %s | %.2f | %.2f | %.2f |\n", name, quantile(wall[a], .5)/quantile(wall[b], .5),
				quantile(wall[a], .1)/quantile(wall[b], .1), quantile(cpu[a], .5)/quantile(cpu[b], .5))
		}
	}
	// Through the call server against the same build's process, call by
	// call (the CPU column is the client's alone: the server's is not
	// the call's process).
	if len(cmds) > paired {
		fmt.Println("\n| call | through the server / as a process, median | p10 |")
		fmt.Println("|---|---:|---:|")
		for a := paired; a < len(cmds); a++ {
			label, call, _ := strings.Cut(cmds[a].name, " via the call server: ")
			for b := 1; b < paired; b++ {
				if cmds[b].name == label+": "+call {
					fmt.Printf("| %s: %s | %.2f | %.2f |\n", label, call, quantile(wall[a], .5)/quantile(wall[b], .5), quantile(wall[a], .1)/quantile(wall[b], .1))
				}
			}
		}
	}
	return nil
}

// runOnce runs c and returns its wall and CPU time in milliseconds.
func runOnce(c command) (wall, cpu float64, err error) {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	if c.stdin != "" {
		f, err := os.Open(c.stdin)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	start := time.Now()
	if out, err := cmd.Output(); err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, out)
	}
	wall = float64(time.Since(start).Microseconds()) / 1000
	st := cmd.ProcessState
	return wall, float64((st.UserTime() + st.SystemTime()).Microseconds()) / 1000, nil
}

func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func buildBare(tmp string) (string, error) {
	src := filepath.Join(tmp, "bare-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	for name, content := range map[string]string{
		"go.mod":  "module bare\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"os\"\n\nfunc main() { _, _ = os.Stdout.WriteString(\"{}\\n\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(tmp, "bare")
	return out, goBuild(src, ".", out)
}

// buildLean builds ./cmd/bgtask-tool at rev ("" = the working tree) and
// links the tool names to it; it returns the binary's folder.
func buildLean(tmp, label, rev string) (string, error) {
	dir := "."
	if rev != "" {
		dir = filepath.Join(tmp, "src-"+label)
		if out, err := exec.Command("git", "worktree", "add", "--detach", dir, rev).CombinedOutput(); err != nil {
			return "", fmt.Errorf("git worktree add %s: %v\n%s", rev, err, out)
		}
		defer func() {
			_ = exec.Command("git", "worktree", "remove", "--force", dir).Run() // Best effort: the folder goes with tmp.
		}()
	}
	bin := filepath.Join(tmp, "bin-"+label)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	if err := goBuild(dir, "./cmd/bgtask-tool", filepath.Join(bin, "bgtask-tool")); err != nil {
		return "", err
	}
	if err := linkEntries(bin, "bgtask-tool"); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "cmd", "bgtask-call")); err == nil {
		if err := goBuild(dir, "./cmd/bgtask-call", filepath.Join(bin, "bgtask-call")); err != nil {
			return "", err
		}
	}
	return bin, nil
}

// linkEntries links the tool names in dir to target.
func linkEntries(dir, target string) error {
	for _, n := range []string{"bg-run", "bg-status", "bg-output", "bg-stop", "bg-reaper"} {
		if err := os.Symlink(target, filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// startResident links the tool names to the bgtask-call of the build in
// bin, in a folder of their own, and starts that build's call server.
// It returns the folder and what ends the server ("" and nothing to
// end for a build without a call server).
func startResident(tmp, label, bin string) (entries string, stop func(), err error) {
	call := filepath.Join(bin, "bgtask-call")
	if _, err := os.Stat(call); err != nil {
		return "", nil, nil
	}
	entries = filepath.Join(tmp, "entries-"+label+"-call")
	if err := os.MkdirAll(entries, 0o755); err != nil {
		return "", nil, err
	}
	if err := linkEntries(entries, call); err != nil {
		return "", nil, err
	}
	srv := exec.Command(filepath.Join(bin, "bgtask-tool"), "__callserver", "-idle", "1h")
	if err := srv.Start(); err != nil {
		return "", nil, fmt.Errorf("start the call server: %w", err)
	}
	stop = func() {
		_ = srv.Process.Kill() // Best effort: it is ours, by pid.
		_ = srv.Wait()
	}
	// Until the server listens, a call would start one of its own, which
	// would outlive this program: wait for it.
	addr, err := callsock.Address(filepath.Join(bin, "bgtask-tool"))
	if err != nil {
		stop()
		return "", nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := callsock.Probe(addr)
		if err == nil {
			return entries, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the call server of %s does not listen: %w", bin, err)
		}
	}
}

func goBuild(dir, pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
	return nil
}

// toolCommands makes each build its own state folders (so that one
// build's index or notices never serve the other) and returns the timed
// calls.
func toolCommands(tmp, label, bin string) ([]command, error) {
	state := func(name string) string { return filepath.Join(tmp, "state-"+label+"-"+name) }
	for _, n := range []int{50, 1000} {
		if err := benchdata.EndedTasks(state(fmt.Sprint(n)), n, time.Now()); err != nil {
			return nil, err
		}
	}
	logID := "task-1700000000-log60"
	if err := benchdata.DevServerTask(filepath.Join(state("log"), logID), 60<<20); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(state("run"), 0o700); err != nil {
		return nil, err
	}
	input := func(name, json string) (string, error) {
		p := filepath.Join(tmp, label+"-"+name+".json")
		return p, os.WriteFile(p, []byte(json), 0o644)
	}
	empty, err := input("status", `{}`)
	if err != nil {
		return nil, err
	}
	tail, err := input("tail", `{"task_id":"`+logID+`","stream":"stdout","tail":80,"since":false}`)
	if err != nil {
		return nil, err
	}
	start, err := input("run", `{"command":"true","timeout":1}`)
	if err != nil {
		return nil, err
	}
	exe := func(name string) string { return filepath.Join(bin, name) }
	env := func(s string) []string { return []string{"TASKS_DIR=" + state(s), "TOOLBOX_ACTION=execute"} }
	return []command{
		{name: label + ": bgtask-tool --version (start-up alone)", argv: []string{exe("bgtask-tool"), "--version"}},
		{name: label + ": bg-reaper, 50 ended tasks", argv: []string{exe("bg-reaper")}, env: env("50")},
		{name: label + ": bg-reaper, 1,000 ended tasks", argv: []string{exe("bg-reaper")}, env: env("1000")},
		{name: label + ": bg_status list, 1,000 ended tasks", argv: []string{exe("bg-status")}, env: env("1000"), stdin: empty},
		{name: label + ": bg_output tail=80, 60 MB log", argv: []string{exe("bg-output")}, env: env("log"), stdin: tail},
		{name: label + ": bg_run until the command runs", argv: []string{exe("bg-run")}, env: env("run"), stdin: start, settle: 200 * time.Millisecond},
	}, nil
}
