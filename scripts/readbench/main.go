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
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// fixture is one recorded run (fixtures.json in dir): its files are
// NAME.stdout and NAME.stderr.
type fixture struct {
	Name      string   `json:"name"`
	Cwd       string   `json:"cwd"`       // the project's folder when it was recorded
	Locations []string `json:"locations"` // where the user's code failed, as the cleaned text shows it
	Failures  []string `json:"failures"`  // the names of what failed
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
	b, err := os.ReadFile(filepath.Join(dir, "fixtures.json"))
	if err != nil {
		return err
	}
	var fixtures []fixture
	if err := json.Unmarshal(b, &fixtures); err != nil {
		return fmt.Errorf("fixtures.json: %w", err)
	}
	fmt.Fprintln(w, "| fixture | view | characters | failures named | user locations | framework frames shown | frames folded |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, f := range fixtures {
		var streams [][]byte
		for _, s := range []string{"stdout", "stderr"} {
			b, err := os.ReadFile(filepath.Join(dir, f.Name+"."+s))
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			streams = append(streams, b)
		}
		for _, v := range views {
			o := v.opt
			o.Cwd = f.Cwd
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
			for _, l := range f.Locations {
				if strings.Contains(all, l) {
					found++
				}
			}
			named := 0
			for _, n := range f.Failures {
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
			fmt.Fprintf(w, "| %s | %s | %d | %d/%d | %d/%d | %d (%.0f%% of %d lines) | %d |\n", f.Name, v.name,
				utf8.RuneCountInString(all), named, len(f.Failures), found, len(f.Locations), foreign, share, len(text), folded)
		}
	}
	return nil
}
