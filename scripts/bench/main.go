// Command bench runs every benchmark of amp-bg-tasks and writes the
// results, with the machine they were measured on, to BENCHMARKS.md. It
// is what scripts/bench.sh runs:
//
//	go run ./scripts/bench [-quick] [-out BENCHMARKS.md]
//
// Whole-process timings go through hyperfine (each tool call is a process
// an agent starts); in-process throughput through Go's testing.B. Every
// timing row is compared with a bare Go program (it prints {} and exits)
// built here in the same run, so that figures from different machines
// compare as ratios. -quick runs each timing a few times only: CI uses it
// so that the script cannot rot, and never fails on a timing.
//
// It builds into a temporary folder, keeps its state folders there, and
// stops every task it starts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
)

func main() {
	quick := flag.Bool("quick", false, "few repetitions and smaller inputs: checks that every benchmark still runs")
	out := flag.String("out", "BENCHMARKS.md", "the report to write")
	flag.Parse()
	if err := run(*quick, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench is one run of every benchmark.
type bench struct {
	quick bool
	tmp   string // builds, state folders, inputs
	bin   string // bare, bgtask, bgtask-tool and the tool links
	runs  int    // hyperfine runs of a quick command
	bareN float64
	bareS float64 // bare program's median, direct and through sh
	rows  []row
	notes []string
}

// row is one line of the timing table.
type row struct {
	what, command string
	median        float64 // seconds; 0 when the row reports something else
	value         string  // what the row reports when it is not a median
	goal          string
	ratio         string
	verdict       string
	why           string // where the time goes, said when the goal is missed
}

func run(quick bool, out string) error {
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // Best effort.
	b := &bench{quick: quick, tmp: tmp, bin: filepath.Join(tmp, "bin"), runs: 100}
	if quick {
		b.runs = 10
	}
	if _, err := exec.LookPath("hyperfine"); err != nil {
		return errors.New("hyperfine not found (scripts/bench.sh installs it: apt-get install hyperfine)")
	}
	step := func(name string, f func() error) error {
		fmt.Fprintf(os.Stderr, "== %s\n", name)
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	var report strings.Builder
	for _, s := range []struct {
		name string
		f    func() error
	}{
		{"build", b.build},
		{"bare program", b.bare},
		{"tool calls", b.toolCalls},
		{"bg_output on 1, 60 and 200 MB logs", b.outputs},
		{"the calls through the call server (install --resident)", b.resident},
		{"capture overhead", b.captureOverhead},
		{"supervisor memory", b.supervisorRSS},
	} {
		if err := step(s.name, s.f); err != nil {
			return err
		}
	}
	b.header(&report)
	b.table(&report)
	for _, s := range []struct {
		name string
		f    func(*strings.Builder) error
	}{
		{"in-process throughput (testing.B)", b.throughput},
		{"corpus reduction", b.corpus},
		{"signal recall", b.signalRecall},
		{"agent loop", b.agentLoop},
	} {
		if err := step(s.name, func() error { return s.f(&report) }); err != nil {
			return err
		}
	}
	if len(b.notes) > 0 {
		report.WriteString("\n## Notes on goals missed\n\n")
		for _, n := range b.notes {
			report.WriteString("- " + n + "\n")
		}
	}
	if err := os.WriteFile(out, []byte(report.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", out)
	return nil
}

// build compiles the bare program and both commands as the installer
// does (static, -trimpath), and links the toolbox entries to the lean one.
func (b *bench) build() error {
	src := filepath.Join(b.tmp, "bare")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod":  "module bare\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"os\"\n\nfunc main() { _, _ = os.Stdout.WriteString(\"{}\\n\") }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	builds := []struct{ dir, pkg, out string }{
		{src, ".", "bare"},
		{".", "./cmd/bgtask", "bgtask"},
		{".", "./cmd/bgtask-tool", "bgtask-tool"},
		{".", "./cmd/bgtask-call", "bgtask-call"},
	}
	for _, bd := range builds {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(b.bin, bd.out), bd.pkg)
		cmd.Dir = bd.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", bd.pkg, err, out)
		}
	}
	for _, n := range []string{"bg-run", "bg-status", "bg-output", "bg-stop", "bg-reaper"} {
		if err := os.Symlink("bgtask-tool", filepath.Join(b.bin, n)); err != nil {
			return err
		}
	}
	return nil
}

// hyperfine times commands and returns each one's median in seconds.
// Commands run without a shell unless shell is set (needed to feed a
// tool its JSON input on stdin); hyperfine then subtracts the shell's own
// start-up time.
func (b *bench) hyperfine(env []string, runs int, shell bool, prepare string, cmds ...string) ([]float64, error) {
	var prepares []string
	if prepare != "" {
		prepares = []string{prepare}
	}
	return b.hyperfinePrepared(env, runs, shell, prepares, cmds...)
}

// hyperfinePrepared is hyperfine with a --prepare command for each
// command (or one for all).
func (b *bench) hyperfinePrepared(env []string, runs int, shell bool, prepares []string, cmds ...string) ([]float64, error) {
	export := filepath.Join(b.tmp, "hyperfine.json")
	args := []string{"--style", "none", "--warmup", strconv.Itoa(max(1, runs/10)), "--runs", strconv.Itoa(runs), "--export-json", export}
	if !shell {
		args = append(args, "-N")
	}
	for _, p := range prepares {
		args = append(args, "--prepare", p)
	}
	cmd := exec.Command("hyperfine", append(args, cmds...)...)
	cmd.Env = append(append(os.Environ(), "BG_NOTIFY=never"), env...)
	cmd.Dir = b.tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hyperfine %q: %v\n%s", cmds, err, out)
	}
	raw, err := os.ReadFile(export)
	if err != nil {
		return nil, err
	}
	var res struct {
		Results []struct {
			Median float64 `json:"median"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	if len(res.Results) != len(cmds) {
		return nil, fmt.Errorf("hyperfine gave %d results for %d commands", len(res.Results), len(cmds))
	}
	var m []float64
	for _, r := range res.Results {
		m = append(m, r.Median)
	}
	return m, nil
}

// vsBare times cmd right after the bare program, in one hyperfine run, so
// that the ratio compares the two under the same load (this VM's timings
// drift by a third over minutes). It returns both medians.
func (b *bench) vsBare(env []string, runs int, shell bool, prepare, cmd string) (tool, bare float64, err error) {
	bareCmd := filepath.Join(b.bin, "bare")
	if shell {
		bareCmd += " </dev/null"
	}
	var prepares []string
	if prepare != "" {
		prepares = []string{"true", prepare}
	}
	m, err := b.hyperfinePrepared(env, runs, shell, prepares, bareCmd, cmd)
	if err != nil {
		return 0, 0, err
	}
	return m[1], m[0], nil
}

// bare times the bare program, directly and through sh with its input
// on stdin, as the tool rows that need one are run.
func (b *bench) bare() error {
	bare := filepath.Join(b.bin, "bare")
	m, err := b.hyperfine(nil, b.runs*2, false, "", bare)
	if err != nil {
		return err
	}
	s, err := b.hyperfine(nil, b.runs*2, true, "", bare+" </dev/null")
	if err != nil {
		return err
	}
	b.bareN, b.bareS = m[0], s[0]
	b.rows = append(b.rows,
		row{what: "bare Go program (prints {})", command: "bare", median: m[0], goal: "the 1.0x reference"},
		row{what: "bare Go program, through sh with stdin", command: "sh -c 'bare </dev/null'", median: s[0], goal: "the 1.0x reference for rows fed JSON"})
	return nil
}

// add records a timed row against its goal: a ratio to the bare program
// (maxRatio) or an absolute bound (maxSeconds), whichever is given.
func (b *bench) add(what, command string, median, bare, maxRatio, maxSeconds float64, why string) {
	r := row{what: what, command: command, median: median, why: why}
	ratio := median / bare
	r.ratio = fmt.Sprintf("%.2fx", ratio)
	ok := true
	switch {
	case maxRatio > 0:
		r.goal = fmt.Sprintf("<= %.1fx bare", maxRatio)
		ok = ratio <= maxRatio
	case maxSeconds > 0:
		r.goal = "< " + ms(maxSeconds)
		ok = median < maxSeconds
	default:
		r.goal = "measured"
	}
	if maxRatio > 0 || maxSeconds > 0 {
		r.verdict = "met"
		if !ok {
			r.verdict = "**missed**"
		}
	}
	b.rows = append(b.rows, r)
}

// Where the time goes, measured on the 2-core VM this was built on (perf,
// GODEBUG=inittrace=1, strace -f); said under a missed goal.
const (
	whyStart = "Start-up of the lean binary: compare the `bgtask-tool --version` row, the same program doing no work. Go's start-up grows with what is linked; gopsutil (the process table, by design) reads /proc/stat twice in its init and brings the net package."
	whyRun   = "Two Go programs start in turn (the tool, then the task's supervisor, each a `bgtask-tool --version`), the supervisor opens two PTYs and execs the shell before it reports the command running; the tool then reads the new task back. The supervisor must be running and own the command before bg_run answers, so this is the floor of the design."
)

// toolCalls times the calls every agent makes: describe, bg_run,
// bg_status with 50 and 1,000 tasks, the reaper's no-work path.
func (b *bench) toolCalls() error {
	tool := func(name string) string { return filepath.Join(b.bin, name) }
	input := func(name, json string) (string, error) {
		p := filepath.Join(b.tmp, name+".json")
		return p, os.WriteFile(p, []byte(json), 0o644)
	}
	empty := filepath.Join(b.tmp, "state-empty")
	if err := os.MkdirAll(empty, 0o700); err != nil {
		return err
	}
	med, bare, err := b.vsBare([]string{"TASKS_DIR=" + empty}, b.runs, false, "", tool("bgtask-tool")+" --version")
	if err != nil {
		return err
	}
	b.add("bgtask-tool --version: start-up, no work (the floor of every row below)", "bgtask-tool --version", med, bare, 0, 0, "")
	med, bare, err = b.vsBare([]string{"TASKS_DIR=" + empty, "TOOLBOX_ACTION=describe"}, b.runs, false, "", tool("bg-run"))
	if err != nil {
		return err
	}
	b.add("describe (every tool, when Amp lists them)", "TOOLBOX_ACTION=describe bg-run", med, bare, 1.5, 0, whyStart)

	// bg_run of a command that ends at once; each run after the previous
	// task's supervisor has exited, as an agent's calls come.
	runState := filepath.Join(b.tmp, "state-run")
	in, err := input("run", `{"command":"true","timeout":1}`)
	if err != nil {
		return err
	}
	med, bare, err = b.vsBare([]string{"TASKS_DIR=" + runState, "TOOLBOX_ACTION=execute"}, b.runs, true, "sleep 0.05", tool("bg-run")+" <"+in)
	if err != nil {
		return err
	}
	b.add("bg_run latency (tool process + supervisor started, command running)", `bg-run <{"command":"true","timeout":1}`, med, bare, 2.5, 0, whyRun)
	if err := stopAll(b.bin, runState); err != nil {
		return err
	}

	list, err := input("status", `{}`)
	if err != nil {
		return err
	}
	for _, n := range []int{50, 1000} {
		state := filepath.Join(b.tmp, fmt.Sprintf("state-%d", n))
		if err := benchdata.EndedTasks(state, n, time.Now()); err != nil {
			return err
		}
		env := []string{"TASKS_DIR=" + state, "TOOLBOX_ACTION=execute"}
		med, bare, err := b.vsBare(env, b.runs, true, "", tool("bg-status")+" <"+list)
		if err != nil {
			return err
		}
		if n == 50 {
			b.add("bg_status list, 50 tasks", "bg-status <{}", med, bare, 1.5, 0, whyStart+" Then the store's names, its index of ended tasks (one file), the status of each task not in it, and the tasks shown, read whole.")
		} else {
			b.add("bg_status list, 1,000 tasks", "bg-status <{}", med, bare, 0, 0.050, "The store's names and its index of ended tasks (one file), then the tasks shown, read whole.")
		}
		med, bare, err = b.vsBare(env, b.runs, false, "", tool("bg-reaper"))
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("bg-reaper, nothing to do, %d tasks (every shell start)", n), "bg-reaper", med, bare, 1.5, 0, whyStart+" Then the store's names and its index of ended tasks (one file): a file read only per running task and per ended one the index does not know yet.")
	}
	return nil
}

// resident times the hot calls through the call server, with the goals
// of issue 23: the toolbox entries link to bgtask-call, and a server of
// this build (started here, ended here by its pid) answers them. It runs
// after toolCalls and outputs, whose fixtures it uses.
func (b *bench) resident() error {
	entries := filepath.Join(b.tmp, "entries-call")
	if err := os.MkdirAll(entries, 0o755); err != nil {
		return err
	}
	for _, n := range []string{"bg-run", "bg-status", "bg-output", "bg-reaper"} {
		if err := os.Symlink(filepath.Join(b.bin, "bgtask-call"), filepath.Join(entries, n)); err != nil {
			return err
		}
	}
	srv := exec.Command(filepath.Join(b.bin, "bgtask-tool"), callsock.ServeArg, "-idle", "1h")
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Kill() // Ours, by pid.
		_ = srv.Wait()
	}()
	addr, err := callsock.Address(filepath.Join(b.bin, "bgtask-tool"))
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := callsock.Probe(addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the call server does not listen: %w", err)
		}
	}
	entry := func(name string) string { return filepath.Join(entries, name) }
	const why = "Through the call server: what is left is the call's own work (see BENCHMARKS.md, round 6)."
	state := filepath.Join(b.tmp, "state-1000")
	env := []string{"TASKS_DIR=" + state, "TOOLBOX_ACTION=execute"}
	med, bare, err := b.vsBare(env, b.runs, false, "", entry("bg-reaper"))
	if err != nil {
		return err
	}
	b.add("through the call server: bg-reaper, nothing to do, 1000 tasks", "bg-reaper -> bgtask-call", med, bare, 1.3, 0, why)
	med, bare, err = b.vsBare(env, b.runs, true, "", entry("bg-status")+" <"+filepath.Join(b.tmp, "status.json"))
	if err != nil {
		return err
	}
	b.add("through the call server: bg_status list, 1,000 tasks", "bg-status -> bgtask-call <{}", med, bare, 0, 0.012, why)
	logs := []string{"TASKS_DIR=" + filepath.Join(b.tmp, "state-logs"), "TOOLBOX_ACTION=execute"}
	med, bare, err = b.vsBare(logs, max(3, b.runs/5), true, "", entry("bg-output")+" <"+filepath.Join(b.tmp, "out-tail-60.json"))
	if err != nil {
		return err
	}
	b.add("through the call server: bg_output tail=80, 60 MB log", "bg-output -> bgtask-call <{tail:80, since:false}", med, bare, 1.3, 0, why)
	runState := filepath.Join(b.tmp, "state-run-call")
	run := []string{"TASKS_DIR=" + runState, "TOOLBOX_ACTION=execute"}
	med, bare, err = b.vsBare(run, b.runs, true, "sleep 0.05", entry("bg-run")+" <"+filepath.Join(b.tmp, "run.json"))
	if err != nil {
		return err
	}
	b.add("through the call server: bg_run latency (a spare supervisor takes the task)", `bg-run -> bgtask-call <{"command":"true","timeout":1}`, med, bare, 2.2, 0,
		"The server writes the task's folder, the spare reads it, the shell starts, the pid files and the logs are written before bg_run answers: each a few system calls, dear on this VM (BENCHMARKS.md, round 6).")
	return stopAll(b.bin, runState)
}

// stopAll stops every running task in state (bench started them all).
func stopAll(bin, state string) error {
	ents, err := os.ReadDir(state)
	if err != nil {
		return err
	}
	for _, e := range ents {
		cmd := exec.Command(filepath.Join(bin, "bg-stop"))
		cmd.Env = append(os.Environ(), "TASKS_DIR="+state, "TOOLBOX_ACTION=execute")
		cmd.Stdin = strings.NewReader(`{"task_id":"` + e.Name() + `"}`)
		_ = cmd.Run() // Most have ended already: nothing to stop is fine.
	}
	return nil
}

// outputs times bg_output on logs of 1, 60 and 200 MB: tail=80, a since
// read of 1,000 new lines, view=digest, and a filtered full scan.
func (b *bench) outputs() error {
	sizes := []int{1, 60, 200}
	if b.quick {
		sizes = []int{1, 60}
		b.notes = append(b.notes, "Quick mode (CI) leaves out the 200 MB log.")
	}
	state := filepath.Join(b.tmp, "state-logs")
	chunk := filepath.Join(b.tmp, "chunk.log")
	var c strings.Builder
	for i := range 1000 {
		c.WriteString(benchdata.LogLine(i))
	}
	if err := os.WriteFile(chunk, []byte(c.String()), 0o644); err != nil {
		return err
	}
	for _, mb := range sizes {
		id := fmt.Sprintf("task-1700000000-log%d", mb)
		dir := filepath.Join(state, id)
		if err := benchdata.DevServerTask(dir, mb<<20); err != nil {
			return err
		}
		env := []string{"TASKS_DIR=" + state, "TOOLBOX_ACTION=execute"}
		runs := b.runs
		if mb >= 60 {
			runs = max(3, b.runs/5)
		}
		in := func(name, params string) (string, error) {
			p := filepath.Join(b.tmp, fmt.Sprintf("out-%s-%d.json", name, mb))
			return p, os.WriteFile(p, []byte(`{"task_id":"`+id+`","stream":"stdout"`+params+`}`), 0o644)
		}
		tail, err := in("tail", `,"tail":80,"since":false`)
		if err != nil {
			return err
		}
		since, err := in("since", ``)
		if err != nil {
			return err
		}
		digest, err := in("digest", `,"view":"digest","since":false`)
		if err != nil {
			return err
		}
		scan, err := in("scan", `,"filter":"error|warn","since":false`)
		if err != nil {
			return err
		}
		out := filepath.Join(b.bin, "bg-output")
		med, bare, err := b.vsBare(env, runs, true, "", out+" <"+tail)
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("bg_output tail=80, %d MB log", mb), "bg-output <{tail:80, since:false}", med, bare, 1.5, 0, whyStart+" Then the task's dozen metadata files and the tail's segment.")
		m, err := b.hyperfine(env, max(3, runs/2), true, "", out+" <"+digest)
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("bg_output view=digest, %d MB log (whole log)", mb), "bg-output <{view:digest, since:false}", m[0], b.bareS, 0, 0, "")
		if mb == 60 {
			m, err = b.hyperfine(env, max(3, runs/2), true, "", out+" <"+scan)
			if err != nil {
				return err
			}
			size := dirBytes(dir)
			b.rows = append(b.rows, row{what: "bg_output filtered full scan, 60 MB log (since=false, filter=error|warn)",
				command: "bg-output <{filter:..., since:false}", median: m[0], goal: "measured",
				value: fmt.Sprintf("%.0f MB/s", float64(size)/(1<<20)/m[0])})
		}
		// Last, as it grows the log: each since read finds 1,000 new
		// lines, appended before it.
		med, bare, err = b.vsBare(env, runs, true, "cat "+chunk+" >>"+filepath.Join(dir, "stdout"), out+" <"+since)
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("bg_output since, 1,000 new lines, %d MB log", mb), "bg-output <{} after 1,000 lines", med, bare, 1.5, 0, whyStart+" Then the cursor's lock and file, and cleaning the new lines.")
	}
	return nil
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// captureOverhead times a command writing 1 GB (100 MB in quick mode)
// under a task (bg_run waiting for its end), under a bare PTY (script)
// and straight into a file.
func (b *bench) captureOverhead() error {
	if _, err := exec.LookPath("script"); err != nil {
		b.notes = append(b.notes, "Capture overhead not measured: `script` (util-linux) is missing.")
		return nil
	}
	mb := 1024
	if b.quick {
		mb = 100
	}
	gen := fmt.Sprintf(`yes '2026-11-23T10:00:00Z INFO GET /api/products 200 12ms - a typical dev server log line' | head -c %d`, mb<<20)
	state := filepath.Join(b.tmp, "state-capture")
	in := filepath.Join(b.tmp, "capture.json")
	params, _ := json.Marshal(map[string]any{"command": gen, "wait_seconds": 600, "timeout": 30}) // Strings and numbers always marshal.
	if err := os.WriteFile(in, params, 0o644); err != nil {
		return err
	}
	file := filepath.Join(b.tmp, "capture.out")
	runs := 3
	if b.quick {
		runs = 1
	}
	typescript := filepath.Join(b.tmp, "typescript.out")
	m, err := b.hyperfine([]string{"TASKS_DIR=" + state, "TOOLBOX_ACTION=execute"}, runs, true, "",
		filepath.Join(b.bin, "bg-run")+" <"+in,
		"script -q -c \""+gen+"\" /dev/null",
		"script -q -c \""+gen+"\" "+typescript+" >/dev/null",
		gen+" >"+file)
	if err != nil {
		return err
	}
	_ = os.Remove(file)       // Best effort: the temp folder goes anyway.
	_ = os.Remove(typescript) // Likewise.
	if err := stopAll(b.bin, state); err != nil {
		return err
	}
	what := fmt.Sprintf("%d MB written", mb)
	b.rows = append(b.rows,
		row{what: "capture: " + what + " under a task (PTY, rotated logs on disk)", command: "bg-run <{command, wait_seconds:600}", median: m[0],
			goal:    "<= 1.5x script saving to a file",
			value:   fmt.Sprintf("%.0f MB/s; %.2fx script to /dev/null, %.2fx script to a file, %.2fx a plain file", float64(mb)/m[0], m[0]/m[1], m[0]/m[2], m[0]/m[3]),
			verdict: verdict(m[0]/m[2] <= 1.5),
			why:     "The supervisor reads each PTY in chunks of at most 4 KB (the line discipline's buffer), each read a wake-up through Go's poller (the master is non-blocking so that a stop can end the reads), and writes them to rotated files with the line counts readers use; script blocks in read(2) and writes once. 40 MB/s and more is far above what dev servers and test runners print."},
		row{what: "capture: " + what + " under a bare PTY, kept nowhere", command: "script -q -c CMD /dev/null", median: m[1], goal: "reference", value: fmt.Sprintf("%.0f MB/s", float64(mb)/m[1])},
		row{what: "capture: " + what + " under a bare PTY, saved to a file", command: "script -q -c CMD FILE", median: m[2], goal: "reference", value: fmt.Sprintf("%.0f MB/s", float64(mb)/m[2])},
		row{what: "capture: " + what + " straight to a file, no PTY", command: "CMD >file", median: m[3], goal: "reference", value: fmt.Sprintf("%.0f MB/s", float64(mb)/m[3])})
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// supervisorRSS samples a task supervisor's resident memory while its
// command idles and while it writes as fast as it can.
func (b *bench) supervisorRSS() error {
	seconds := 5.0
	if b.quick {
		seconds = 1
	}
	state := filepath.Join(b.tmp, "state-rss")
	for _, c := range []struct{ name, command string }{
		{"idle (command sleeps)", "sleep 600"},
		{"flood (yes, 10 MB segments rotating)", `yes "2026-11-23T10:00:00Z INFO GET /api/products 200 12ms - a typical dev server log line"`},
	} {
		cmd := exec.Command(filepath.Join(b.bin, "bg-run"))
		cmd.Env = append(os.Environ(), "TASKS_DIR="+state, "TOOLBOX_ACTION=execute", "BG_NOTIFY=never")
		params, _ := json.Marshal(map[string]any{"command": c.command, "timeout": 10}) // Always marshals.
		cmd.Stdin = strings.NewReader(string(params))
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("bg-run: %v %s", err, out)
		}
		var res struct {
			TaskID string `json:"task_id"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return err
		}
		pid, err := os.ReadFile(filepath.Join(state, res.TaskID, "watchdog_pid"))
		if err != nil {
			_ = stopAll(b.bin, state)
			return err
		}
		time.Sleep(500 * time.Millisecond) // Settle into the state measured.
		var rss []float64
		for deadline := time.Now().Add(time.Duration(seconds * float64(time.Second))); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if kb, err := rssKB(strings.TrimSpace(string(pid))); err == nil {
				rss = append(rss, float64(kb)/1024)
			}
		}
		if err := stopAll(b.bin, state); err != nil {
			return err
		}
		if len(rss) == 0 {
			return errors.New("no RSS sample of the supervisor")
		}
		slices.Sort(rss)
		med := rss[len(rss)/2]
		b.rows = append(b.rows, row{what: "supervisor RSS, " + c.name, command: "VmRSS of the supervisor, every 100 ms",
			goal: "<= 20 MB", value: fmt.Sprintf("median %.1f MB, max %.1f MB", med, rss[len(rss)-1]), verdict: verdict(rss[len(rss)-1] <= 20)})
	}
	return nil
}

// rssKB reads VmRSS of pid from /proc.
func rssKB(pid string) (int, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no VmRSS")
}

func ms(s float64) string {
	if s >= 1 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f ms", s*1000)
}

// header writes the machine and how to rerun.
func (b *bench) header(w *strings.Builder) {
	goVersion, _ := exec.Command("go", "version").Output()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	mode := "full"
	if b.quick {
		mode = "quick (-quick: few repetitions, smaller inputs; CI's mode, timings indicative only)"
	}
	fmt.Fprintf(w, "# Benchmarks\n\nWritten by `scripts/bench.sh` (rerun it to measure your machine; `scripts/bench.sh --quick` for a fast check).\n\n")
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	fmt.Fprintf(w, "| date | %s |\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "| CPU | %s |\n| cores | %d |\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(w, "| kernel | %s %s |\n", runtime.GOOS, strings.TrimSpace(string(kernel)))
	fmt.Fprintf(w, "| Go | %s |\n", strings.TrimSpace(string(goVersion)))
	fmt.Fprintf(w, "| mode | %s |\n", mode)
	fmt.Fprintf(w, "| timing | hyperfine, median of %d runs for quick commands (fewer for big logs); binaries built static with -trimpath, as scripts/install.sh builds them |\n\n", b.runs)
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (b *bench) table(w *strings.Builder) {
	w.WriteString("## Whole-process timings and memory\n\n")
	w.WriteString("Ratios are to the bare Go program built in the same run and timed right before each row, in the same hyperfine run (timings on a VM drift): directly for rows run without a shell, through `sh` for rows that feed the tool its JSON on stdin (hyperfine subtracts the shell's start either way). The two bare rows are from the start of the run.\n\n")
	w.WriteString("| what | command | median | ratio to bare | goal | |\n|---|---|---:|---:|---|---|\n")
	for _, r := range b.rows {
		med := ""
		if r.median > 0 {
			med = ms(r.median)
		}
		ratio := r.ratio
		if r.value != "" {
			ratio = strings.TrimSpace(ratio + " " + r.value)
		}
		fmt.Fprintf(w, "| %s | `%s` | %s | %s | %s | %s |\n", r.what, r.command, med, ratio, r.goal, r.verdict)
		if r.verdict == "**missed**" {
			b.notes = append(b.notes, fmt.Sprintf("%s: %s against %s. %s", r.what, strings.TrimSpace(med+" "+r.ratio+" "+r.value), r.goal, r.why))
		}
	}
}

// throughput runs the cleaner's testing.B benchmarks in-process.
func (b *bench) throughput(w *strings.Builder) error {
	benchtime := "5x"
	if b.quick {
		benchtime = "1x"
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkClean", "-benchtime", benchtime, "./capture")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(\d+) ns/op\s+([\d.]+) MB/s`)
	w.WriteString("\n## Cleaner throughput, in process\n\n")
	fmt.Fprintf(w, "`go test -run '^$' -bench '^BenchmarkClean' -benchtime %s ./capture`: the real-log corpus repeated to 50 MB, written in 64 KiB chunks.\n\n", benchtime)
	w.WriteString("| benchmark | MB/s |\n|---|---:|\n")
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			fmt.Fprintf(w, "| %s | %s |\n", m[1], m[3])
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no benchmark results in:\n%s", out)
	}
	return nil
}

// corpus embeds cleanbench's table.
func (b *bench) corpus(w *strings.Builder) error {
	out, err := exec.Command("go", "run", "./scripts/cleanbench").Output()
	if err != nil {
		return fmt.Errorf("cleanbench: %w", err)
	}
	w.WriteString("\n## Cleaning the real-log corpus\n\n`go run ./scripts/cleanbench`: characters before and after default cleaning (no line cap) and with `filter=error|warn|fail|exception|panic`, and the diagnostic lines of each `.keep` file that survive.\n\n")
	w.Write(out)
	return nil
}

// agentLoop embeds scripts/agentloop's table; it needs npm for tsc.
func (b *bench) agentLoop(w *strings.Builder) error {
	w.WriteString("\n## The agent's loop\n\n`go run ./scripts/agentloop`: an agent fixing a TypeScript error under `tsc --watch`, waiting with wait_for/wait_seconds versus polling.\n\n")
	if _, err := exec.LookPath("npm"); err != nil {
		w.WriteString("Not measured: npm is missing (the loop runs a real tsc from npm).\n")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "run", "./scripts/agentloop").Output()
	if err != nil {
		return fmt.Errorf("agentloop: %w\n%s", err, out)
	}
	w.Write(out)
	return nil
}
