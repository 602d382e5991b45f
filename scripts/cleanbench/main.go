// Command cleanbench measures the output cleaner on a corpus of real logs:
// for each NAME.log it prints the raw size, the auto-cleaned size, the
// size filtered for problems, and how many NAME.keep entries survive
// auto-cleaning, as a Markdown table.
//
//	go run ./scripts/cleanbench [dir]
//
// dir defaults to capture/testdata/corpus.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// problemFilter is the filter an agent would use to see only problems.
const problemFilter = "error|warn|fail|exception|panic"

// row is the measurement of one log, or of the total.
type row struct {
	name                   string
	raw, cleaned, filtered int // characters
	kept, keeps            int // keep entries retained, and present
}

func main() {
	dir := filepath.Join("capture", "testdata", "corpus")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(os.Stdout, dir); err != nil {
		fmt.Fprintln(os.Stderr, "cleanbench:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	if len(logs) == 0 {
		return fmt.Errorf("no .log files in %s", dir)
	}
	total := row{name: "**total**"}
	fmt.Fprintln(w, "| log | raw chars | auto-cleaned | reduction | filtered | reduction | .keep retained |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, path := range logs {
		r, err := measure(path)
		if err != nil {
			return err
		}
		printRow(w, r)
		total.raw += r.raw
		total.cleaned += r.cleaned
		total.filtered += r.filtered
		total.kept += r.kept
		total.keeps += r.keeps
	}
	printRow(w, total)
	return nil
}

// measure cleans one log with the defaults (but no line cap, so sizes
// compare whole logs) and with the problem filter.
func measure(path string) (row, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return row{}, err
	}
	r := row{name: strings.TrimSuffix(filepath.Base(path), ".log"), raw: utf8.RuneCount(raw)}
	all := capture.Options{MaxLines: 1 << 30}
	cleaned, err := capture.Clean(raw, all)
	if err != nil {
		return row{}, fmt.Errorf("clean %s: %w", path, err)
	}
	r.cleaned = chars(cleaned)
	all.Filter = problemFilter
	filtered, err := capture.Clean(raw, all)
	if err != nil {
		return row{}, fmt.Errorf("clean %s: %w", path, err)
	}
	r.filtered = chars(filtered)

	keepFile := strings.TrimSuffix(path, ".log") + ".keep"
	keep, err := os.ReadFile(keepFile)
	if err != nil && !os.IsNotExist(err) {
		return row{}, err
	}
	var entries []string
	for _, e := range strings.Split(string(keep), "\n") {
		if strings.TrimSpace(e) != "" {
			entries = append(entries, e)
		}
	}
	r.keeps = len(entries)
	r.kept = r.keeps - len(capture.MissingKeeps(cleaned, entries))
	return r, nil
}

// chars counts the characters of lines joined by newlines.
func chars(lines []string) int {
	n := 0
	for _, l := range lines {
		n += utf8.RuneCountInString(l) + 1
	}
	return n
}

func printRow(w io.Writer, r row) {
	fmt.Fprintf(w, "| %s | %d | %d | %s | %d | %s | %d/%d |\n",
		r.name, r.raw, r.cleaned, reduction(r.raw, r.cleaned), r.filtered, reduction(r.raw, r.filtered), r.kept, r.keeps)
}

func reduction(raw, n int) string {
	if raw == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*(1-float64(n)/float64(raw)))
}
