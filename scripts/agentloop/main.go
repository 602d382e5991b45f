// Command agentloop plays a coding agent in an edit-compile loop against a
// real watch-mode compiler (TypeScript's tsc --watch, installed from npm
// into a cache folder) and counts the tool calls it makes and the
// characters the tools return, two ways:
//
//   - waiting: bg_run with wait_for, then bg_output with wait_seconds after
//     each edit (what the skill teaches);
//   - polling: bg_run, then bg_output tail=5 / filter reads every second
//     until the answer is there (what the original tool's skill taught).
//
// Each loop: start, wait until ready, break a file, read the error, fix
// it, read the confirmation, stop. It then checks that no process of the
// tasks is left.
//
//	go run ./scripts/agentloop [-v]
//
// It needs npm (and the npm registry once, to fetch typescript).
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
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

func main() {
	verbose := flag.Bool("v", false, "print every call and answer")
	flag.Parse()
	if err := run(*verbose); err != nil {
		fmt.Fprintln(os.Stderr, "agentloop:", err)
		os.Exit(1)
	}
}

type agent struct {
	bin, state string
	calls      int
	chars      int
	verbose    bool
	tasks      []string
}

func (a *agent) call(tool string, params map[string]any) (map[string]any, string, error) {
	in, _ := json.Marshal(params)
	cmd := exec.Command(filepath.Join(a.bin, "bg-"+tool))
	cmd.Env = append(os.Environ(), "TOOLBOX_ACTION=execute", "TASKS_DIR="+a.state, "AMP_THREAD_ID=agentloop", "BG_NOTIFY=never")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	a.calls++
	a.chars += len(bytes.TrimSpace(out))
	if a.verbose {
		fmt.Printf("> bg_%s %s\n< %s\n", tool, in, bytes.TrimSpace(out))
	}
	if err != nil {
		return nil, string(out), fmt.Errorf("bg_%s: %v: %s", tool, err, out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, string(out), err
	}
	if id, ok := res["task_id"].(string); ok && tool == "run" {
		a.tasks = append(a.tasks, id)
	}
	return res, string(out), nil
}

const (
	good = "export const x: number = 1;\n"
	bad  = "export const x: number = \"one\";\n"
)

func run(verbose bool) error {
	tsc, err := installTSC()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "agentloop-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // Best effort.
	bin := filepath.Join(tmp, "bin")
	if err := build(bin); err != nil {
		return err
	}
	type result struct {
		name         string
		calls, chars int
		left         int
	}
	var results []result
	for _, way := range []struct {
		name string
		loop func(a *agent, proj, tsc string) error
	}{{"waiting (wait_for, wait_seconds)", waiting}, {"polling (tail=5, then filter, every second)", polling}} {
		proj := filepath.Join(tmp, "proj-"+strings.Fields(way.name)[0])
		if err := project(proj); err != nil {
			return err
		}
		state := filepath.Join(tmp, "state-"+strings.Fields(way.name)[0])
		a := &agent{bin: bin, state: state, verbose: verbose}
		if verbose {
			fmt.Println("==", way.name)
		}
		if err := way.loop(a, proj, tsc); err != nil {
			return fmt.Errorf("%s: %w", way.name, err)
		}
		left, err := leftover(a.tasks)
		if err != nil {
			return err
		}
		results = append(results, result{way.name, a.calls, a.chars, left})
	}
	fmt.Println("| loop | tool calls | characters returned | processes left |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range results {
		fmt.Printf("| %s | %d | %d | %d |\n", r.name, r.calls, r.chars, r.left)
	}
	return nil
}

func waiting(a *agent, proj, tsc string) error {
	r, _, err := a.call("run", map[string]any{"command": tsc + " --watch --noEmit --preserveWatchOutput", "label": "tsc", "cwd": proj,
		"wait_for": "Watching for file changes", "wait_seconds": 120})
	if err != nil {
		return err
	}
	if r["ready"] != true {
		return fmt.Errorf("tsc not ready: %v", r)
	}
	id := r["task_id"].(string)
	if err := os.WriteFile(filepath.Join(proj, "src", "a.ts"), []byte(bad), 0o644); err != nil {
		return err
	}
	if _, out, err := a.call("output", map[string]any{"task_id": id, "filter": "error", "wait_seconds": 60}); err != nil || !strings.Contains(out, "error TS2322") {
		return fmt.Errorf("no error read: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(proj, "src", "a.ts"), []byte(good), 0o644); err != nil {
		return err
	}
	if _, out, err := a.call("output", map[string]any{"task_id": id, "filter": "error", "wait_seconds": 60}); err != nil || !strings.Contains(out, "Found 0 errors") {
		return fmt.Errorf("no confirmation read: %v %s", err, out)
	}
	_, _, err = a.call("stop", map[string]any{"task_id": id})
	return err
}

func polling(a *agent, proj, tsc string) error {
	r, _, err := a.call("run", map[string]any{"command": tsc + " --watch --noEmit --preserveWatchOutput", "label": "tsc", "cwd": proj})
	if err != nil {
		return err
	}
	id := r["task_id"].(string)
	until := func(params map[string]any, want string) error {
		for range 120 {
			time.Sleep(time.Second)
			if _, out, err := a.call("output", params); err != nil || strings.Contains(out, want) {
				return err
			}
		}
		return fmt.Errorf("%q never came", want)
	}
	if err := until(map[string]any{"task_id": id, "tail": 5}, "Watching for file changes"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(proj, "src", "a.ts"), []byte(bad), 0o644); err != nil {
		return err
	}
	if err := until(map[string]any{"task_id": id, "filter": "error"}, "error TS2322"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(proj, "src", "a.ts"), []byte(good), 0o644); err != nil {
		return err
	}
	if err := until(map[string]any{"task_id": id, "filter": "error"}, "Found 0 errors"); err != nil {
		return err
	}
	_, _, err = a.call("stop", map[string]any{"task_id": id})
	return err
}

// leftover counts live processes that carry one of the tasks' markers.
func leftover(ids []string) (int, error) {
	t, err := procs.Snapshot(context.Background())
	if err != nil {
		return 0, err
	}
	n := 0
	marked := t.Marked()
	for _, id := range ids {
		n += len(marked[id])
	}
	return n, nil
}

func project(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tsconfig.json"), []byte(`{"compilerOptions":{"strict":true,"noEmit":true},"include":["src"]}`), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "src", "a.ts"), []byte(good), 0o644)
}

// installTSC returns tsc's path, installing typescript into a cache folder
// (AGENTLOOP_NPM_DIR, default a folder under the user cache) once.
func installTSC() (string, error) {
	dir := os.Getenv("AGENTLOOP_NPM_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "amp-bg-agentloop-npm")
	}
	tsc := filepath.Join(dir, "node_modules", ".bin", "tsc")
	if _, err := os.Stat(tsc); err == nil {
		return tsc, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("npm is needed to install typescript: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", dir, "typescript@5")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install typescript: %w", err)
	}
	return tsc, nil
}

func build(bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	// As the installer lays it out: the toolbox entries run the lean build.
	for _, c := range []string{"bgtask", "bgtask-tool"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, c), "./cmd/"+c)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", c, err)
		}
	}
	for _, t := range []string{"run", "output", "status", "stop", "send"} {
		if err := os.Symlink("bgtask-tool", filepath.Join(bin, "bg-"+t)); err != nil {
			return err
		}
	}
	return nil
}
