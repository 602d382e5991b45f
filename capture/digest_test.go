package capture

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type groundTruth struct {
	RequiredSignals []struct {
		Importance string   `json:"importance"`
		Value      string   `json:"value"`
		Aliases    []string `json:"aliases"`
		File       string   `json:"file"`
	} `json:"required_signals"`
}

// kept is LogDx-CI's text rule: a signal is kept when its value, an
// alias, or its file appears in the text.
func kept(value string, aliases []string, file, text string) bool {
	if v := strings.TrimSpace(value); v != "" && strings.Contains(text, v) {
		return true
	}
	for _, a := range aliases {
		if a = strings.TrimSpace(a); a != "" && strings.Contains(text, a) {
			return true
		}
	}
	f := strings.TrimSpace(file)
	return f != "" && strings.Contains(text, f)
}

// TestDigestSignalRecall holds the digest to its promise on real CI
// failure logs nobody here wrote (testdata/logdx): the signals a debugger
// needs survive, in a few thousand tokens.
func TestDigestSignalRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: digests the whole corpus (16 s)")
	}
	t.Parallel()
	dirs, err := filepath.Glob("testdata/logdx/*/raw.log.gz")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	var critical, all []float64
	var tokens []int
	for _, p := range dirs {
		dir := filepath.Dir(p)
		raw := gunzip(t, p)
		var gt groundTruth
		b, err := os.ReadFile(filepath.Join(dir, "ground_truth.json"))
		if err == nil {
			err = json.Unmarshal(b, &gt)
		}
		if err != nil {
			t.Fatal(err)
		}
		lines, err := Clean(raw, Options{Digest: true, MaxLines: 150})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(lines, "\n")
		var nc, kc, na, ka float64
		for _, s := range gt.RequiredSignals {
			k := kept(s.Value, s.Aliases, s.File, text)
			na++
			if k {
				ka++
			}
			if s.Importance == "critical" {
				nc++
				if k {
					kc++
				}
			} else if !k {
				t.Logf("%s: %s signal lost: %.80q", filepath.Base(dir), s.Importance, s.Value+s.File)
			}
			if s.Importance == "critical" && !k {
				t.Errorf("%s: critical signal lost: %.100q", filepath.Base(dir), s.Value+s.File)
			}
		}
		critical = append(critical, kc/max(nc, 1))
		all = append(all, ka/max(na, 1))
		tokens = append(tokens, len(text)/4)
		if len(lines) > 150 {
			t.Errorf("%s: %d lines, budget 150", filepath.Base(dir), len(lines))
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	slices.Sort(tokens)
	median := tokens[len(tokens)/2]
	t.Logf("digest on %d LogDx-CI cases: critical recall %.3f, all signals %.3f, median %d tokens", len(dirs), mean(critical), mean(all), median)
	if mean(critical) < 0.97 || mean(all) < 0.93 || median > 2500 {
		t.Errorf("critical recall %.3f (want >= 0.97), all %.3f (want >= 0.93), median tokens %d (want <= 2500)", mean(critical), mean(all), median)
	}
}

func gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDigest(t *testing.T) {
	t.Parallel()
	pass := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, "PASS src/ok"+strings.Repeat("x", i%7)+".test.ts")
		}
		return out
	}
	warnBlock := []string{"Warning: font block", "  line a", "  line b", "  line c"}
	tests := []struct {
		name  string
		in    []string
		max   int
		check func(t *testing.T, out []string)
	}{
		{"short logs are shown whole", []string{"a", "error: b", "c"}, 10, func(t *testing.T, out []string) {
			if !slices.Equal(out, []string{"a", "error: b", "c"}) {
				t.Fatalf("got %q", out)
			}
		}},
		{"an early error survives a long passing run", append(append([]string{"step 1", "error: early failure", "  at x.go:3"}, pass(500)...), "Tests: 1 failed, 500 passed", "exit code 1"), 20, func(t *testing.T, out []string) {
			text := strings.Join(out, "\n")
			for _, want := range []string{"error: early failure", "  at x.go:3", "Tests: 1 failed, 500 passed", "exit code 1", "passing lines ...]"} {
				if !strings.Contains(text, want) {
					t.Fatalf("%q missing from:\n%s", want, text)
				}
			}
		}},
		{"a repeated block is shown once with its count", func() []string {
			var in []string
			for i := 0; i < 5; i++ {
				in = append(in, "GET /page "+strings.Repeat("1", i+1))
				in = append(in, "error: boom in handler", "  at handler.go:9", "  at server.go:12")
				in = append(in, pass(30)...)
			}
			return in
		}(), 60, func(t *testing.T, out []string) {
			text := strings.Join(out, "\n")
			if strings.Count(text, "error: boom in handler") != 1 || !strings.Contains(text, "error: boom in handler [× 5]") || strings.Contains(text, "[... same") {
				t.Fatalf("want the block once, with its count:\n%s", text)
			}
		}},
		{"near-identical blocks (numbers differ) are shown once with their count", func() []string {
			var in []string
			for i := 0; i < 39; i++ {
				in = append(in, "  ● fetch › retries", "    TypeError: fetch failed after "+strings.Repeat("9", i%3+1)+" ms", "      at src/api.ts:12:5")
				in = append(in, pass(3)...)
			}
			return append(in, pass(40)...)
		}(), 60, func(t *testing.T, out []string) {
			text := strings.Join(out, "\n")
			if strings.Count(text, "TypeError: fetch failed") != 1 || !strings.Contains(text, "[× 39]") {
				t.Fatalf("want the block once with [× 39]:\n%s", text)
			}
		}},
		{"every failed test is named with its location before context", func() []string {
			var in []string
			for i := 0; i < 30; i++ {
				name := "test_case_" + string(rune('a'+i%26)) + strings.Repeat("z", i/26)
				in = append(in, "✖ "+name+" (1.2ms)", "  AssertionError [ERR_ASSERTION]: values differ in "+name)
				for k := 0; k < 8; k++ {
					in = append(in, "    context line "+name+" "+string(rune('a'+k)))
				}
				in = append(in, "      at TestContext.<anonymous> (test/"+name+".test.js:6:10)", "      [... 6 frames folded: node:internal (6) ...]")
			}
			return append(in, "ℹ fail 30")
		}(), 80, func(t *testing.T, out []string) {
			text := strings.Join(out, "\n")
			named, located := 0, 0
			for i := 0; i < 30; i++ {
				name := "test_case_" + string(rune('a'+i%26)) + strings.Repeat("z", i/26)
				if strings.Contains(text, "✖ "+name+" (1.2ms)") {
					named++
				}
				if strings.Contains(text, "test/"+name+".test.js:6:10") {
					located++
				}
				if strings.Count(text, "✖ "+name+" (1.2ms)") > 1 {
					t.Errorf("%s named twice", name)
				}
			}
			left := 0
			if i := strings.Index(text, "more failed tests not named"); i >= 0 {
				fmt.Sscanf(text[strings.LastIndex(text[:i], "[... ")+5:], "%d", &left)
			}
			if named+left != 30 || located != named || named < 25 {
				t.Fatalf("named %d, located %d, %d said left, of 30:\n%s", named, located, left, text)
			}
		}},
		{"a CI job's failure is framed: job name, failing step, failed command with its code", func() []string {
			in := []string{"Current runner version: '2.330.0'", "Complete job name: Run prettier"}
			for _, step := range []string{"actions/checkout@v4", "yarn install", "yarn lint"} {
				in = append(in, "##[group]Run "+step, "shell: /usr/bin/bash -e {0}", "##[endgroup]")
				in = append(in, pass(60)...)
			}
			in = append(in, "##[group]Run yarn prettier-check", "##[endgroup]")
			in = append(in, pass(80)...)
			in = append(in, "Script result: node ./scripts/prettier/index.js --check", "  return code: 1")
			in = append(in, pass(80)...)
			return append(in, "##[error]Process completed with exit code 1.", "Post job cleanup.", "[command]/usr/bin/git version")
		}(), 40, func(t *testing.T, out []string) {
			text := strings.Join(out, "\n")
			for _, want := range []string{"Complete job name: Run prettier", "##[group]Run yarn prettier-check", "Script result: node ./scripts/prettier/index.js --check", "##[error]Process completed with exit code 1."} {
				if !strings.Contains(text, want) {
					t.Errorf("%q missing:\n%s", want, text)
				}
			}
			if strings.Contains(text, "##[group]Run yarn lint") {
				t.Errorf("a step that passed is shown as the failing one:\n%s", text)
			}
		}},
		{"distinct errors all shown", append(append(pass(40), "a.go:1:2: undefined: x", "a.go:2:2: undefined: x", "b.go:7:1: undefined: y"), pass(40)...), 14, func(t *testing.T, out []string) {
			text := strings.Join(out, "\n")
			if !strings.Contains(text, "a.go:1:2") || !strings.Contains(text, "a.go:2:2") || !strings.Contains(text, "b.go:7:1") {
				t.Fatalf("got:\n%s", text)
			}
		}},
		{"errors over the budget are counted", func() []string {
			var in []string
			for i := 0; i < 100; i++ {
				in = append(in, "pkg/f"+strings.Repeat("x", i%9)+".go:1:1: error: kind"+string(rune('a'+i%26))+" problem")
			}
			return append(in, warnBlock...)
		}(), 30, func(t *testing.T, out []string) {
			if len(out) > 30 {
				t.Fatalf("%d lines over the budget of 30", len(out))
			}
			if !strings.Contains(strings.Join(out, "\n"), "more error blocks not shown") {
				t.Fatalf("no count of what did not fit:\n%s", strings.Join(out, "\n"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Clean([]byte(strings.Join(tt.in, "\n")+"\n"), Options{Digest: true, MaxLines: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, out)
		})
	}
}

// FuzzDigest checks the digest's invariants on arbitrary logs: no panic,
// never more than MaxLines lines, every line either a line of the log (as
// cleaning gives it) or one of the digest's own summary lines, and the
// same digest however the input is chunked.
func FuzzDigest(f *testing.F) {
	for _, s := range []string{
		"ok\nerror: x\n  at a.go:1\nok\n",
		strings.Repeat("PASS a\n", 50) + "FAIL b\n  Expected: 1\n  Received: 2\n" + strings.Repeat("PASS c\n", 50) + "Tests: 1 failed\n",
		strings.Repeat("error: same\n  at x.go:2\nnoise\n", 30),
		"2026-04-22T16:27:50.8673728Z ##[error]Process completed with exit code 1.\nPost job cleanup.\n" + strings.Repeat("git cleanup\n", 40),
		strings.Repeat("a.go:1: error: one\nctx\nb.go:2: error: two\nmore ctx\n", 40) + "Found 80 errors\nPost job cleanup.\n" + strings.Repeat("git x\n", 30),
		"✖ adds (1ms)\n  AssertionError: x\n    at f (test/a.test.js:4:3)\n" + strings.Repeat("✖ other (1ms)\n  Error: y\n    at g (test/b.test.js:9:1)\n", 20) + "ℹ fail 21\n",
		strings.Repeat(" ⨯ ./app/page.js:1:1\nModule not found: x\n> 1 | import\n", 3),
		"Complete job name: lint\n##[group]Run make\nScript result: make\n  return code: 2\n##[error]Process completed with exit code 2.\nPost job cleanup.\n",
	} {
		f.Add([]byte(s), uint8(5))
		f.Add([]byte(s), uint8(40))
	}
	f.Fuzz(func(t *testing.T, raw []byte, max uint8) {
		o := Options{Digest: true, MaxLines: int(max%60) + 3}
		out, err := Clean(raw, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > o.MaxLines {
			t.Fatalf("%d lines, more than MaxLines %d:\n%s", len(out), o.MaxLines, strings.Join(out, "\n"))
		}
		p, err := NewPipeline(o)
		if err != nil {
			t.Fatal(err)
		}
		for rest := raw; len(rest) > 0; {
			n := min(int(max%7)+1, len(rest))
			p.Write(rest[:n])
			rest = rest[n:]
		}
		if chunked := p.Close(); !slices.Equal(chunked, out) {
			t.Fatalf("chunked digest differs:\n%q\n%q", chunked, out)
		}
	})
}

// TestDigestGolden pins the digest of every corpus log at a 40-line
// budget: run with -update after an intended change and review the diff.
func TestDigestGolden(t *testing.T) {
	t.Parallel()
	for _, name := range corpusNames(t) {
		t.Run(name, func(t *testing.T) {
			out, err := Clean(readCorpus(t, name, ".log"), Options{Digest: true, MaxLines: 40})
			if err != nil {
				t.Fatal(err)
			}
			if len(out) > 40 {
				t.Fatalf("%d lines over the budget of 40", len(out))
			}
			checkGolden(t, filepath.Join("testdata", "golden", "digest-"+name+".txt"), out)
		})
	}
}

func TestDigitSlashDigit(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"[3/10] compiling": true, "1/2": true, "get /api/products/12 200": false,
		"/home/dev/src/app.ts": false, "a/1": false, "9/": false, "": false,
	} {
		if got := digitSlashDigit(s); got != want {
			t.Errorf("digitSlashDigit(%q) = %v", s, got)
		}
	}
}

// A large CI log with many distinct errors: the run's verdict (the final
// summary and the exit line), which lies beyond the last lines the digest
// keeps, is shown whatever the errors in the middle take.
func TestDigestKeepsTheVerdict(t *testing.T) {
	t.Parallel()
	var in []string
	for i := 0; i < 400; i++ {
		in = append(in, fmt.Sprintf("FAIL src/module%d/feature_%c%c.test.ts > case %d", i, 'a'+i%26, 'a'+i/26%26, i))
		in = append(in, fmt.Sprintf("TypeError: cannot read property %c%c of undefined", 'a'+i%26, 'a'+i/26%26))
		in = append(in, fmt.Sprintf("    at src/module%d/feature.ts:%d:7", i, i+3))
		in = append(in, fmt.Sprintf("✓ src/other%d.test.ts > passes", i), "✓ src/another.test.ts > passes too")
	}
	in = append(in, "FAIL! -- 1223 Passed | 1 Failed")
	for i := 0; i < 60; i++ {
		in = append(in, fmt.Sprintf("Uploading coverage part %c%c", 'a'+i%26, 'a'+i/26))
	}
	in = append(in, "##[error]Process completed with exit code 1.", "Post job cleanup.")
	for i := 0; i < 40; i++ {
		in = append(in, fmt.Sprintf("git config --unset-all extraheader %c%c", 'a'+i%26, 'a'+i/26))
	}
	for _, max := range []int{40, 150} {
		out, err := Clean([]byte(strings.Join(in, "\n")+"\n"), Options{Digest: true, MaxLines: max})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(out, "\n")
		for _, want := range []string{"FAIL! -- 1223 Passed | 1 Failed", "##[error]Process completed with exit code 1.", "FAIL src/module0/", "TypeError: cannot read property aa"} {
			if !strings.Contains(text, want) {
				t.Errorf("max_lines %d: %q missing:\n%s", max, want, text)
			}
		}
		if len(out) > max {
			t.Errorf("max_lines %d: %d lines", max, len(out))
		}
	}
}

func TestCondense(t *testing.T) {
	var in []string
	for i := 0; i < 40; i++ {
		in = append(in, fmt.Sprintf("compiling module %c%c", 'a'+i%26, 'a'+i/26))
	}
	in[3] = "warning: DATABASE_URL is not set"
	in[37] = "error: port 3000 busy, trying 3001"
	out := Condense(in, 10)
	if len(out) != 10 || out[0] != in[3] || out[1] != "[... 31 progress lines ...]" || out[9] != in[39] || !slices.Contains(out, in[37]) {
		t.Fatalf("got %q", out)
	}
	if got := Condense(in[:5], 10); !slices.Equal(got, in[:5]) {
		t.Fatalf("short input changed: %q", got)
	}
}

func TestGapLineCountsOneLine(t *testing.T) {
	for kinds, want := range map[string]string{
		string([]byte{byte(kindOther)}):                  "[... 1 other line ...]",
		string([]byte{byte(kindOther), byte(kindOther)}): "[... 2 other lines ...]",
		string([]byte{byte(kindError)}):                  "[... 1 error line ...]",
	} {
		ks := make([]lineKind, len(kinds))
		for i := range kinds {
			ks[i] = lineKind(kinds[i])
		}
		if got := gapLine(ks); got != want {
			t.Errorf("gapLine(%v) = %q, want %q", ks, got, want)
		}
	}
}

// TestDigestTellsApartWhatOnlyLocationsOrCountsTellApart: two assertions
// alike but for where they failed are two failures, and a watcher's
// "Found 6 errors" then "Found 4 errors" are two states of the run, in a
// log that fits whole and in one that does not.
func TestDigestTellsApartWhatOnlyLocationsOrCountsTellApart(t *testing.T) {
	t.Parallel()
	failures := []string{
		"=== RUN   TestRelease",
		"    stock_test.go:47: ",
		"        \tError Trace:\t/src/inv/stock_test.go:47",
		"        \tError:      \tNot equal: ",
		"        \t            \texpected: 4",
		"        \t            \tactual  : 5",
		"    stock_test.go:93: ",
		"        \tError Trace:\t/src/inv/stock_test.go:93",
		"        \tError:      \tNot equal: ",
		"        \t            \texpected: 10",
		"        \t            \tactual  : 12",
		"--- FAIL: TestRelease (0.00s)",
		"Found 6 errors. Watching for file changes.",
		"Found 4 errors. Watching for file changes.",
		"Found 4 errors. Watching for file changes.",
		"FAIL\texample.com/inv\t0.004s",
	}
	var long []string
	for i := 0; i < 300; i++ {
		long = append(long, fmt.Sprintf("compiling module_%c%c", 'a'+i%26, 'a'+i/26%26))
	}
	long = append(long, failures...)
	for _, in := range [][]string{failures, long} {
		out, err := Clean([]byte(strings.Join(in, "\n")+"\n"), Options{Digest: true, MaxLines: 40})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(out, "\n")
		for _, want := range []string{"stock_test.go:93", "expected: 10", "actual  : 12", "Found 4 errors"} {
			if !strings.Contains(text, want) {
				t.Errorf("%d lines in: %q missing:\n%s", len(in), want, text)
			}
		}
		if strings.Contains(text, "Found 6 errors. Watching for file changes. [×") {
			t.Errorf("%d lines in: 6, 4 and 4 errors counted as one:\n%s", len(in), text)
		}
	}
}

// A problem shown once for several says whether the others' numbers
// differ ("retry 5" for "retry 5" to "retry 30"), which an agent must
// not read as one line repeated; times and durations that differ do not
// count. Both in a short log and in a long one.
func TestDigestSaysWhenRepeatsNumbersVary(t *testing.T) {
	t.Parallel()
	var problems []string
	for _, n := range []int{5, 10, 15, 20, 25, 30} {
		problems = append(problems, fmt.Sprintf("error: upload attempt %d refused", n),
			"    at upload (src/up.js:10:5)", "retrying the upload")
	}
	for i := 0; i < 3; i++ {
		problems = append(problems, fmt.Sprintf("[10:00:0%d] error: cache miss for key settings (took %dms)", i, 10+i),
			"    at load (src/cache.js:4:2)", "falling back to defaults")
	}
	var long []string
	for i := 0; i < 300; i++ {
		long = append(long, fmt.Sprintf("compiling module_%c%c", 'a'+i%26, 'a'+i/26%26))
	}
	long = append(long, problems...)
	for _, in := range [][]string{problems, long} {
		out, err := Clean([]byte(strings.Join(in, "\n")+"\n"), Options{Digest: true, MaxLines: 40})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(out, "\n")
		for _, want := range []string{"error: upload attempt 5 refused [× 6, numbers vary]", "error: cache miss for key settings (took 10ms) [× 3]\n"} {
			if !strings.Contains(text+"\n", want) {
				t.Errorf("%d lines in: %q missing:\n%s", len(in), want, text)
			}
		}
	}
}

// TestDigestKeepsCorpusProblems: on the real logs, the digest at its
// default budget loses no problem line of a .keep file (a line the
// digest itself classifies as an error), nor a line that says what an
// error was: cargo's "second E0308 at src/lib.rs:67:5" (its header line
// equals the first's) and a Rust panic's message, on the line after
// "panicked at …:". Of the context lines, it drops only what its budget
// cannot hold.
func TestDigestKeepsCorpusProblems(t *testing.T) {
	t.Parallel()
	lost, total := 0, 0
	for _, name := range corpusNames(t) {
		out, err := Clean(readCorpus(t, name, ".log"), Options{Digest: true, MaxLines: 150})
		if err != nil {
			t.Fatal(err)
		}
		keep := strings.Split(strings.TrimSpace(string(readCorpus(t, name, ".keep"))), "\n")
		total += len(keep)
		for _, k := range MissingKeeps(out, keep) {
			lost++
			if kind, _ := classify(k); kind >= kindError || strings.Contains(k, "no entry found for key") || strings.Contains(k, "lib.rs:67:5") {
				t.Errorf("%s: the digest (%d lines) lost %q", name, len(out), k)
			}
		}
	}
	t.Logf("%d of %d .keep lines not in the default digest", lost, total)
}

// A log that fits the budget whole is no noisier in the digest than in
// the default read: its repeats collapse (a product trial found a
// digest keeping 40 progress lines the default read folds into 3).
func TestDigestOfAShortLogCollapsesRepeats(t *testing.T) {
	t.Parallel()
	var in []string
	for i := 1; i <= 40; i++ {
		in = append(in, fmt.Sprintf("tests/test_api.py::test_case_%d PASSED [%3d%%]", i, i*100/41))
	}
	in = append(in, "tests/test_api.py::test_orders FAILED", "E   assert 402 == 201", "=== 1 failed, 40 passed in 0.81s ===")
	out, err := Clean([]byte(strings.Join(in, "\n")+"\n"), Options{Digest: true, MaxLines: 150})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(out, "\n")
	if len(out) > 10 || !strings.Contains(text, "similar lines collapsed") || !strings.Contains(text, "assert 402 == 201") || !strings.Contains(text, "1 failed, 40 passed") {
		t.Errorf("%d lines:\n%s", len(out), text)
	}
}

// A test file's FAIL line is named with where its first failing test
// failed, past that test's "● suite › name" header (no error word: it
// does not count as a failure of its own), even at a tiny budget.
func TestDigestLocatesAJestFileFailure(t *testing.T) {
	t.Parallel()
	var in []string
	for i := 0; i < 500; i++ {
		in = append(in, fmt.Sprintf(" PASS  src/mod%d.test.ts", i))
	}
	in = append(in, " FAIL  src/cart/checkout.test.ts", "  ● Checkout › applies discount code", "",
		"    expect(received).toBe(expected) // Object.is equality", "    Expected: 42.5", "    Received: 45",
		"      at Object.<anonymous> (src/cart/checkout.test.ts:88:21)")
	for i := 0; i < 500; i++ {
		in = append(in, fmt.Sprintf(" PASS  src/other%d.test.ts", i))
	}
	in = append(in, "Tests:       1 failed, 1000 passed, 1001 total")
	for _, max := range []int{5, 10} {
		out, err := Clean([]byte(strings.Join(in, "\n")+"\n"), Options{Digest: true, MaxLines: max})
		if err != nil {
			t.Fatal(err)
		}
		if text := strings.Join(out, "\n"); !strings.Contains(text, "FAIL  src/cart/checkout.test.ts — src/cart/checkout.test.ts:88:21") {
			t.Errorf("max_lines %d:\n%s", max, text)
		}
	}
}
