package capture

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current cleaner")

// corpusNames lists the logs under testdata/corpus, without ".log".
func corpusNames(t testing.TB) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("list corpus logs: %v (found %d)", err, len(logs))
	}
	names := make([]string, len(logs))
	for i, l := range logs {
		names[i] = strings.TrimSuffix(filepath.Base(l), ".log")
	}
	return names
}

func readCorpus(t testing.TB, name, ext string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", name+ext))
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	return b
}

// allLines are default options except a cap that keeps everything, so the
// corpus test sees every line the cleaner decided to keep.
var allLines = Options{MaxLines: 1 << 30}

// TestCorpusKeep is the cleaner's main promise: on real logs, every line a
// developer must see survives auto-cleaning.
func TestCorpusKeep(t *testing.T) {
	t.Parallel()
	for _, name := range corpusNames(t) {
		t.Run(name, func(t *testing.T) {
			out, err := Clean(readCorpus(t, name, ".log"), allLines)
			if err != nil {
				t.Fatal(err)
			}
			keep := strings.Split(strings.TrimRight(string(readCorpus(t, name, ".keep")), "\n"), "\n")
			if len(keep) == 0 {
				t.Fatalf("%s.keep is empty", name)
			}
			for _, k := range MissingKeeps(out, keep) {
				t.Errorf("%s.log: cleaning lost keep entry %q", name, k)
			}
		})
	}
}

// TestCorpusReduction checks that auto-cleaning removes at least half of
// the corpus's characters, and filtering most of the rest.
func TestCorpusReduction(t *testing.T) {
	t.Parallel()
	var raw, cleaned, filtered int
	for _, name := range corpusNames(t) {
		b := readCorpus(t, name, ".log")
		raw += len([]rune(string(b)))
		out, err := Clean(b, allLines)
		if err != nil {
			t.Fatal(err)
		}
		cleaned += countChars(out)
		o := allLines
		o.Filter = "error|warn|fail|exception|panic"
		out, err = Clean(b, o)
		if err != nil {
			t.Fatal(err)
		}
		filtered += countChars(out)
	}
	t.Logf("corpus: raw %d chars, cleaned %d, filtered %d", raw, cleaned, filtered)
	if cleaned*2 > raw {
		t.Errorf("auto-cleaning kept %d of %d characters, want at most half", cleaned, raw)
	}
	if filtered*100 > raw*15 {
		t.Errorf("filtering kept %d of %d characters, want at most 15%%", filtered, raw)
	}
}

// countChars counts runes of the lines joined by newlines.
func countChars(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len([]rune(l)) + 1
	}
	return n
}

// TestCorpusGolden pins the cleaned output of each corpus log. Run with
// -update after an intended change and review the diff.
func TestCorpusGolden(t *testing.T) {
	t.Parallel()
	for _, name := range corpusNames(t) {
		t.Run(name, func(t *testing.T) {
			out, err := Clean(readCorpus(t, name, ".log"), allLines)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", name+".txt"), out)
		})
	}
}

// checkGolden compares lines with the golden file at path, or rewrites it
// with -update.
func checkGolden(t *testing.T, path string, lines []string) {
	t.Helper()
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run the test with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update and review the diff):\n%s", path, firstDiff(string(want), got))
	}
}

// firstDiff describes the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return "(no difference found)"
}
