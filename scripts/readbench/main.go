// Command readbench measures what an agent receives from real failing
// runs (capture/testdata/reads): for each fixture and view, the characters
// of the answer, how many of the failures it names and of the fixture's user locations it holds, and how
// many of its lines are stack frames of dependencies or runtimes (frames
// the agent cannot act on), as a Markdown table.
//
//	go run ./scripts/readbench [dir]
//
// The views are bg_output's default read (80 newest lines),
// filter="error", view="digest" (150 lines) and the digest a bg_run
// answer carries for a task that ended first (60 lines). It counts
// framework frames with its own patterns, not the cleaner's, so that it
// measures the cleaner rather than agreeing with it.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// fixture is one recorded run: its files are NAME.stdout and NAME.stderr.
type fixture struct {
	name      string
	cwd       string   // the project's folder when it was recorded
	locations []string // where the user's code failed, as the cleaned text shows it
	failures  []string // the names of what failed
}

var fixtures = []fixture{
	{"vitest-fail", "/tmp/i26proj/vite", []string{"test/greet.test.js:9:23", "test/greet.test.js:12:17", "test/more.test.js:4:23"}, []string{"adds two numbers", "parses config", "adds negatives"}},
	{"vite-dev-error", "/tmp/i26proj/vite", []string{"src/main.js:2:25", "src/broken.js:1:0"}, []string{"Failed to resolve import", "Failed to parse source"}},
	{"node-test-fail", "/tmp/i26proj/nodetest", []string{"test/lib.test.js:4:33", "test/lib.test.js:6:10"}, []string{"sum adds", "load parses"}},
	{"python-zerodiv", "/tmp/i26proj/py", []string{`app.py", line 5`}, []string{"ZeroDivisionError"}},
	{"python-yaml", "/tmp/i26proj/py", []string{`app.py", line 8`}, []string{"ParserError"}},
	{"next-dev-error", "/tmp/i26proj/next", []string{"lib/data.js:3:20", "app/missing/page.js:1:1"}, []string{"TypeError", "Module not found"}},
	{"go-test-panic", "/tmp/i26proj/gop", []string{"calc_test.go:12"}, []string{"TestIndexOut"}},
}

type view struct {
	name string
	opt  capture.Options
}

var views = []view{
	{"default", capture.Options{}},
	{"filter=error", capture.Options{Filter: "error"}},
	{"digest", capture.Options{Digest: true, MaxLines: 150}},
	{"bg_run answer", capture.Options{Digest: true, MaxLines: 60}},
}

// frameRe matches a stack frame line; foreignRe a frame's location in a
// dependency or a runtime.
var (
	frameRe   = regexp.MustCompile(`^\s*(at |File "|from |❯ |\d+: )|^\s+/\S+\.go:\d+`)
	foreignRe = regexp.MustCompile(`node_modules|site-packages|dist-packages|node:|\(internal/|<frozen|/pkg/mod/|/vendor/|/src/runtime/|/src/testing/|/go/src/|\(<anonymous>\)|\(index \d+\)|lib/python3\.\d+/`)
	foldRe    = regexp.MustCompile(`\[\.\.\. (\d+) (framework )?frames? folded`)
)

func main() {
	dir := filepath.Join("capture", "testdata", "reads")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(os.Stdout, dir); err != nil {
		fmt.Fprintln(os.Stderr, "readbench:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir string) error {
	fmt.Fprintln(w, "| fixture | view | characters | failures named | user locations | framework frames shown | frames folded |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, f := range fixtures {
		var streams [][]byte
		for _, s := range []string{"stdout", "stderr"} {
			b, err := os.ReadFile(filepath.Join(dir, f.name+"."+s))
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			streams = append(streams, b)
		}
		for _, v := range views {
			o := v.opt
			o.Cwd = f.cwd
			var text []string
			for _, b := range streams {
				if len(b) == 0 {
					continue
				}
				lines, err := capture.Clean(b, o)
				if err != nil {
					return err
				}
				text = append(text, lines...)
			}
			all := strings.Join(text, "\n")
			found := 0
			for _, l := range f.locations {
				if strings.Contains(all, l) {
					found++
				}
			}
			named := 0
			for _, n := range f.failures {
				if strings.Contains(all, n) {
					named++
				}
			}
			foreign, folded := 0, 0
			for _, l := range text {
				if m := foldRe.FindStringSubmatch(l); m != nil {
					var n int
					fmt.Sscan(m[1], &n)
					folded += n
					continue
				}
				if frameRe.MatchString(l) && foreignRe.MatchString(l) {
					foreign++
				}
			}
			share := 0.0
			if len(text) > 0 {
				share = 100 * float64(foreign) / float64(len(text))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d/%d | %d/%d | %d (%.0f%% of %d lines) | %d |\n", f.name, v.name,
				utf8.RuneCountInString(all), named, len(f.failures), found, len(f.locations), foreign, share, len(text), folded)
		}
	}
	return nil
}
