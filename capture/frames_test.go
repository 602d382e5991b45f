package capture

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func foldLines(lines ...string) []string {
	var out []string
	f := newFrameFolder(func(l []byte) { out = append(out, string(l)) })
	for _, l := range lines {
		f.add([]byte(l))
	}
	f.finish()
	return out
}

func TestFoldFrames(t *testing.T) {
	for _, c := range []struct {
		name     string
		in, want []string
	}{{
		name: "node: dependency frames between the user's",
		in: []string{
			"Error: boom",
			"    at handler (src/routes/orders.js:20:53)",
			"    at Layer.handleRequest (node_modules/router/lib/layer.js:169:33)",
			"    at next (node_modules/router/lib/route.js:163:13)",
			"    at async Promise.all (index 1)",
			"    at main (src/server.js:9:3)",
			"    at Module._compile (node:internal/modules/cjs/loader:1495:20)",
			"    at require (node:internal/modules/helpers:182:18)",
			"next line",
		},
		want: []string{
			"Error: boom",
			"    at handler (src/routes/orders.js:20:53)",
			"    [... 3 frames folded: node_modules/router (2), native (1) ...]",
			"    at main (src/server.js:9:3)",
			"    [... 2 frames folded: node:internal (2) ...]",
			"next line",
		},
	}, {
		name: "one foreign frame stays",
		in:   []string{"    at f (a.js:1:2)", "    at g (node:internal/x:1:2)", "done"},
		want: []string{"    at f (a.js:1:2)", "    at g (node:internal/x:1:2)", "done"},
	}, {
		name: "pnpm and scoped packages name the package",
		in: []string{
			"    at a (.pnpm/@vitejs+plugin-react@4.0.0_@.../@vitejs/plugin-react/dist/index.js:1:2)",
			"    at b (node_modules/@babel/core/lib/x.js:3:4)",
		},
		want: []string{"    [... 2 frames folded: node_modules/@vitejs/plugin-react (1), node_modules/@babel/core (1) ...]"},
	}, {
		name: "python: a frame's source lines go with it",
		in: []string{
			"Traceback (most recent call last):",
			`  File "app.py", line 8, in load_config`,
			"    return yaml.safe_load(text)",
			"           ^^^^^^^^^^^^^^^^^^^^",
			`  File "/usr/lib/python3/site-packages/yaml/__init__.py", line 125, in safe_load`,
			"    return load(stream, SafeLoader)",
			`  File "/usr/lib/python3.11/json/decoder.py", line 3, in decode`,
			"    x()",
			`  File "<frozen importlib._bootstrap>", line 1, in _call`,
			"yaml.parser.ParserError: while parsing",
			"  in \"<unicode string>\", line 1, column 6:",
		},
		want: []string{
			"Traceback (most recent call last):",
			`  File "app.py", line 8, in load_config`,
			"    return yaml.safe_load(text)",
			"           ^^^^^^^^^^^^^^^^^^^^",
			"  [... 3 frames folded: site-packages/yaml (1), python3.11/json (1), python:frozen (1) ...]",
			"yaml.parser.ParserError: while parsing",
			"  in \"<unicode string>\", line 1, column 6:",
		},
	}, {
		name: "go: function and location lines fold together",
		in: []string{
			"goroutine 6 [running]:",
			"testing.tRunner.func1.2({0x574440, 0x1266c1efa0c0})",
			"\t/usr/local/go/src/testing/testing.go:1974 +0x232",
			"panic({0x574440?, 0x1266c1efa0c0?})",
			"\t/usr/local/go/src/runtime/panic.go:860 +0x13a",
			"example.com/gop.TestIndexOut(0x1266c1f7c488?)",
			"\tcalc_test.go:12 +0xa",
			"github.com/stretchr/testify/assert.Fail(...)",
			"\t/home/u/go/pkg/mod/github.com/stretchr/testify@v1.9.0/assert/assertions.go:12 +0x1",
			"created by testing.(*T).Run in goroutine 1",
			"\t/usr/local/go/src/testing/testing.go:2101 +0x4c5",
			"FAIL\texample.com/gop\t0.014s",
		},
		want: []string{
			"goroutine 6 [running]:",
			"[... 2 frames folded: go testing (1), go runtime (1) ...]",
			"example.com/gop.TestIndexOut(0x1266c1f7c488?)",
			"\tcalc_test.go:12 +0xa",
			"[... 2 frames folded: go module github.com/stretchr/testify (1), go testing (1) ...]",
			"FAIL\texample.com/gop\t0.014s",
		},
	}, {
		name: "a line that only looks like a Go function line is kept",
		in:   []string{"render(App)", "done"},
		want: []string{"render(App)", "done"},
	}, {
		name: "prose starting with at is no frame",
		in:   []string{"  at least one test failed", "  at the end (see above)", "x"},
		want: []string{"  at least one test failed", "  at the end (see above)", "x"},
	}, {
		name: "rules",
		in: []string{
			strings.Repeat("⎯", 40) + " Failed Tests 3 " + strings.Repeat("⎯", 40),
			" FAIL  test/a.test.js > adds",
			strings.Repeat("⎯", 90) + "[1/3]⎯",
			strings.Repeat("─", 60),
			strings.Repeat("=", 30),
			"===== short test summary info =====",
			"  " + strings.Repeat("-", 20),
			"          ~~~~~~~~~~~",
			"            --------",
			"   │   ╰──────── opened here",
			"--",
		},
		want: []string{
			"⎯⎯⎯ Failed Tests 3 ⎯⎯⎯",
			" FAIL  test/a.test.js > adds",
			"⎯⎯⎯[1/3]⎯",
			"───",
			"===== short test summary info =====",
			"  ---",
			"          ~~~~~~~~~~~",
			"            --------",
			"   │   ╰──────── opened here",
			"--",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got := foldLines(c.in...)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			again := foldLines(got...)
			if strings.Join(again, "\n") != strings.Join(got, "\n") {
				t.Errorf("folding again changed it:\n%s", strings.Join(again, "\n"))
			}
		})
	}
}

// realRead is a fixture of capture/testdata/reads (listed in its
// fixtures.json): the output logs of a real failing run, the folder it
// ran in, where the user's code failed and the names of what failed.
type realRead struct {
	Name      string   `json:"name"`
	Cwd       string   `json:"cwd"`
	Locations []string `json:"locations"`
	Failures  []string `json:"failures"`
}

// realReads are the fixtures, in fixtures.json's order.
var realReads = func() []realRead {
	b, err := os.ReadFile(filepath.Join("testdata", "reads", "fixtures.json"))
	if err != nil {
		panic(err)
	}
	var out []realRead
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}()

// streams returns the fixture's non-empty logs.
func (r realRead) streams(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range []string{"stdout", "stderr"} {
		b, err := os.ReadFile(filepath.Join("testdata", "reads", r.Name+"."+s))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// read cleans every stream of the fixture with o and joins the answers.
func (r realRead) read(t *testing.T, o Options) []string {
	t.Helper()
	o.Cwd = r.Cwd
	var all []string
	for _, b := range r.streams(t) {
		lines, err := Clean(b, o)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, lines...)
	}
	return all
}

var readViews = []struct {
	name string
	opt  Options
}{
	{"default", Options{}},
	{"filter", Options{Filter: "error|fail"}},
	{"digest", Options{Digest: true, MaxLines: 150}},
	{"bg_run digest", Options{Digest: true, MaxLines: 60}},
}

// foreignFrame matches a frame of a dependency or runtime as the real
// reads print them (its own patterns, not the folder's).
var longRule = regexp.MustCompile(`⎯{4,}|─{4,}`)

var foreignFrame = regexp.MustCompile(`^\s*(at .*(node_modules|node:|\(index \d+\))|File ".*(site-packages|<frozen)|/usr/local/go/src/)`)

// TestRealReadsFoldFrames: no view of a real read shows a frame of a
// dependency or runtime, and every view that shows frames keeps the
// user's.
func TestRealReadsFoldFrames(t *testing.T) {
	for _, r := range realReads {
		for _, v := range readViews {
			got := r.read(t, v.opt)
			for _, l := range got {
				if foreignFrame.MatchString(l) {
					t.Errorf("%s, %s: a framework frame is shown: %q", r.Name, v.name, l)
				}
				if longRule.MatchString(l) {
					t.Errorf("%s, %s: a long rule is shown: %q", r.Name, v.name, l)
				}
			}
		}
	}
}

// FuzzFrameFolder checks the folder on arbitrary lines: no panic, never
// more lines out than in, every line out is a line in, a fold line or a
// rule, and folding again changes nothing.
func FuzzFrameFolder(f *testing.F) {
	for _, s := range []string{
		"Error: x\n    at a (src/a.js:1:2)\n    at b (node_modules/x/y.js:1:2)\n    at c (node:internal/z:1:2)\n",
		"Traceback:\n  File \"/x/site-packages/a.py\", line 1, in f\n    f()\n  File \"a.py\", line 2, in g\nE: x\n",
		"main.f()\n\t/usr/local/go/src/runtime/x.go:1 +0x1\ncreated by x\n\t/go/pkg/mod/a@v1/b.go:2\n",
		"  1: std::rt::x\n     at /rustc/abc/library/std/src/rt.rs:1:2\n  2: main\n",
		"⎯⎯⎯⎯ T ⎯⎯⎯⎯\n────\n────\n========\n--\n",
		"    at \xff (node:\n  File \"\", line \n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := strings.Split(s, "\n")
		out := foldLines(in...)
		if len(out) > len(in) {
			t.Fatalf("%d lines out of %d", len(out), len(in))
		}
		seen := map[string]bool{}
		for _, l := range in {
			seen[l] = true
		}
		for _, l := range out {
			t := strings.TrimLeft(l, " \t")
			if !seen[l] && !strings.HasPrefix(t, "[... ") && !strings.ContainsAny(t, "⎯─━═=-") {
				panic("a line out that is not a line in: " + l)
			}
		}
		if again := foldLines(out...); strings.Join(again, "\n") != strings.Join(out, "\n") {
			t.Fatalf("folding again changed\n%q\ninto\n%q", out, again)
		}
	})
}

// TestRealReadsFilterBringsLocation: a filter for problems brings the
// user's location of each, wherever the language prints it (Python
// before the error, Node, vitest and Go after it).
func TestRealReadsFilterBringsLocation(t *testing.T) {
	for _, r := range realReads {
		got := strings.Join(r.read(t, Options{Filter: "error|panic|not found"}), "\n")
		for _, l := range r.Locations {
			if !strings.Contains(got, l) {
				t.Errorf("%s: filter lost %q:\n%s", r.Name, l, got)
			}
		}
	}
}

// TestRealReadsSayEachProblemOnce: Next prints its error block on every
// request; a digest (even of a log that fits whole) shows it once, marked
// with how many times it came.
func TestRealReadsSayEachProblemOnce(t *testing.T) {
	r := realReads[5]
	if r.Name != "next-dev-error" {
		t.Fatalf("fixture %s", r.Name)
	}
	for _, v := range readViews[2:] {
		got := strings.Join(r.read(t, v.opt), "\n")
		for _, once := range []string{"Cannot read properties of undefined", "Module not found", "> 3 |   return users[id].name.toUpperCase()"} {
			if n := strings.Count(got, once); n != 1 {
				t.Errorf("%s: %q said %d times:\n%s", v.name, once, n, got)
			}
		}
		if !strings.Contains(got, "[× 2]") || !strings.Contains(got, "[× 3]") {
			t.Errorf("%s: repeats not counted:\n%s", v.name, got)
		}
	}
}
