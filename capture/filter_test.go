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
