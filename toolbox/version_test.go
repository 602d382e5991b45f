package toolbox

import "testing"

func TestPseudoCommit(t *testing.T) {
	t.Parallel()
	tests := []struct{ version, want string }{
		{"v0.0.0-20261129090000-e90f06097557", "e90f06097557"},
		{"v1.2.4-0.20261129090000-e90f06097557", "e90f06097557"},
		{"v1.2.3-pre.0.20261129090000-e90f06097557", "e90f06097557"},
		{"v1.2.3", ""},
		{"v1.2.3-rc1", ""},
		{"v1.2.3-rc.abcdefabcdef", ""}, // One dash: a pre-release, not a pseudo-version.
		{"v0.0.0-20261129090000-E90F06097557", ""},
		{"(devel)", ""},
	}
	for _, tt := range tests {
		if got := PseudoCommit(tt.version); got != tt.want {
			t.Errorf("PseudoCommit(%q) = %q, want %q", tt.version, got, tt.want)
		}
	}
}
