package capture

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"testing"
)

func TestLiteralSet(t *testing.T) {
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
