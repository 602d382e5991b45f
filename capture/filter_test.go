package capture

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"testing"
)

func TestLiteralSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string // nil: not a literal set
	}{
		{"error|warn|fail|exception|panic", []string{"error", "warn", "fail", "exception", "panic"}},
		{"FAIL|Error", []string{"fail", "error"}},
		{"fail|failure", []string{"fail", "failure"}},
		{"(err|warn)ing", []string{"erring", "warning"}},
		{"e", []string{"e"}},
		{"^error", nil},
		{"err.r", nil},
		{"errors?", nil},
		{`\berror\b`, nil},
		{"(?-i)Error", nil},
		{"café", nil},
	}
	for _, tt := range tests {
		re, err := syntax.Parse("(?i)"+tt.expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := literalSet(re, maxLiterals)
		if !ok {
			got = nil
		}
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("literalSet(%q) = %q, want %q", tt.expr, got, want)
		}
	}
}

// TestMatcherAgreesWithRegexp checks the literal fast path against the
// regexp it stands for, including the Unicode case folds it must defer on.
func TestMatcherAgreesWithRegexp(t *testing.T) {
	t.Parallel()
	exprs := []string{"error|warn|fail|exception|panic", "fail|failure", "(err|warn)ing", "k8s", "^error", "TASK"}
	inputs := []string{
		"", "ERROR: x", "no problem", "Warning", "FaIlUrE", "k8s pod", "\u212A8s pod", "ta\u017Fk", "TASK",
		"exceptional", "err", "error at start", " error", "ÉRROR", "pânic", "erring",
	}
	for _, expr := range exprs {
		m, err := newMatcher("filter", expr)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile("(?i)" + expr)
		for _, in := range inputs {
			if got, want := m.match([]byte(in)), re.MatchString(in); got != want {
				t.Errorf("%q on %q: matcher %v, regexp %v", expr, in, got, want)
			}
		}
	}
}

// A filter match brings the location and code-frame lines that belong to
// it, as the digest associates them: Node prints the location before the
// error, Vite and stack traces after it. Unrelated lines stay out.
func TestFilterBringsLocation(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		filter  string
		want    []string
		context int
	}{
		{"node: location and code frame before the error", []string{
			"server listening on 3000",
			"/home/dev/app/server2.js:10",
			"  const total = order.items.reduce((s, i) => s + i.price, 0)",
			"                            ^",
			"",
			"TypeError: Cannot read properties of undefined (reading 'reduce')",
			"    at handler (/home/dev/app/server2.js:10:29)",
			"    at Layer.handle (node_modules/express/lib/router/layer.js:95:5)",
			"GET /health 200",
		}, "error", []string{
			"/home/dev/app/server2.js:10",
			"  const total = order.items.reduce((s, i) => s + i.price, 0)",
			"                            ^",
			"TypeError: Cannot read properties of undefined (reading 'reduce')",
			"    at handler (/home/dev/app/server2.js:10:29)",
			"    at Layer.handle (node_modules/express/lib/router/layer.js:95:5)",
		}, 0},
		{"vite: plugin, file and frame after the error", []string{
			"7:01:02 PM [vite] hmr update /src/App.tsx",
			"7:01:03 PM [vite] Internal server error: Transform failed with 1 error:",
			"/home/dev/web/src/lib.js:2:0: ERROR: Unexpected \"}\"",
			"  Plugin: vite:esbuild",
			"  File: /home/dev/web/src/lib.js:2:0",
			"  1  |  export const f = () => 1",
			"  2  |  }",
			"     |  ^",
			"7:01:04 PM [vite] hmr update /src/App.tsx",
		}, "error", []string{
			"7:01:03 PM [vite] Internal server error: Transform failed with 1 error:",
			"/home/dev/web/src/lib.js:2:0: ERROR: Unexpected \"}\"",
			"  File: /home/dev/web/src/lib.js:2:0",
			"  1  |  export const f = () => 1",
			"  2  |  }",
			"     |  ^",
		}, 0},
		{"indented lines that follow belong to the match", []string{
			"build ok",
			"error: build failed",
			"  --> src/main.rs:3:5",
			"   |",
			"3  |     let x: i32 = \"a\";",
			"next step",
		}, "error", []string{"error: build failed", "  --> src/main.rs:3:5", "   |", "3  |     let x: i32 = \"a\";"}, 0},
		{"python: the frame before the error, with its source and the frames folded after it", []string{
			"Traceback (most recent call last):",
			`  File "/home/dev/app/main.py", line 18, in <module>`,
			"    main()",
			`  File "/home/dev/app/main.py", line 5, in ratio`,
			"    return a / b",
			"           ~~^~~",
			`  File "/usr/lib/python3/site-packages/yaml/a.py", line 1, in f`,
			"    g()",
			`  File "/usr/lib/python3/site-packages/yaml/b.py", line 2, in g`,
			"    h()",
			"ZeroDivisionError: division by zero",
			"next",
		}, "error", []string{
			`  File "/home/dev/app/main.py", line 5, in ratio`,
			"    return a / b",
			"           ~~^~~",
			"  [... 2 frames folded: site-packages/yaml (2) ...]",
			"ZeroDivisionError: division by zero",
		}, 0},
		{"go: the user's frames after a panic", []string{
			"--- FAIL: TestIndexOut (0.00s)",
			"panic: runtime error: index out of range [5] with length 2",
			"goroutine 6 [running]:",
			"testing.tRunner.func1.2({0x574440, 0x1266c1efa0c0})",
			"	/usr/local/go/src/testing/testing.go:1974 +0x232",
			"panic({0x574440?, 0x1266c1efa0c0?})",
			"	/usr/local/go/src/runtime/panic.go:860 +0x13a",
			"example.com/gop.TestIndexOut(0x1266c1f7c488?)",
			"	/home/dev/gop/calc_test.go:12 +0xa",
			"FAIL	example.com/gop	0.014s",
		}, "panic", []string{
			"--- FAIL: TestIndexOut (0.00s)",
			"panic: runtime error: index out of range [5] with length 2",
			"[... 2 frames folded: go testing (1), go runtime (1) ...]",
			"	/home/dev/gop/calc_test.go:12 +0xa",
		}, 0},
		{"vitest: the failed test's header before, the location after the diff", []string{
			" FAIL  test/greet.test.js > greet > adds two numbers",
			"AssertionError: expected 4 to be 3 // Object.is equality",
			"- Expected",
			"+ Received",
			"- 3",
			"+ 4",
			" ❯ test/greet.test.js:9:23",
			"      9|     expect(add(1, 2)).toBe(3)",
			"       |                       ^",
			"⎯⎯⎯[1/3]⎯",
		}, "error", []string{
			" FAIL  test/greet.test.js > greet > adds two numbers",
			"AssertionError: expected 4 to be 3 // Object.is equality",
			" ❯ test/greet.test.js:9:23",
			"      9|     expect(add(1, 2)).toBe(3)",
			"       |                       ^",
		}, 0},
		{"a caret line comes only with the line it points into", []string{
			"yaml.parser.ParserError: while parsing a flow sequence",
			`  in "<unicode string>", line 1, column 6:`,
			"    key: [unclosed",
			"         ^",
		}, "error", []string{"yaml.parser.ParserError: while parsing a flow sequence"}, 0},
		{"indented lines before without a location stay out", []string{
			"  some indented log line",
			"  another one",
			"Error: boom",
			"done",
		}, "error", []string{"Error: boom"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Clean([]byte(lines(tt.in...)), Options{Filter: tt.filter, Context: tt.context})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out, tt.want) {
				t.Errorf("got  %q\nwant %q", out, tt.want)
			}
		})
	}
}
