package toolbox

import (
	"runtime/debug"
	"strings"
)

// version and commit are stamped at link time by scripts/package.sh,
// scripts/dist.sh and .goreleaser.yaml (-ldflags "-X
// github.com/amp-bg-tasks/amp-bg-tasks/toolbox.version=0.1.0 -X
// ...toolbox.commit=<sha>"); empty in other builds, whose version comes
// from the build info. Never written at run time.
var (
	version string
	commit  string
)

// stampedVersion is the version stamped at link time, with its commit;
// "" when none was.
func stampedVersion() string {
	if version == "" {
		return ""
	}
	if commit == "" {
		return version
	}
	return version + " (commit " + commit[:min(12, len(commit))] + ")"
}

// PseudoCommit is the commit a Go pseudo-version names
// (v0.0.0-20261129090000-e90f06097557: go install of an untagged
// commit), "" for any other version.
func PseudoCommit(v string) string {
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 || strings.Count(v, "-") < 2 {
		return ""
	}
	rev := v[i+1:]
	if strings.Trim(rev, "0123456789abcdef") != "" {
		return ""
	}
	return rev
}

// Version is the version stamped into a release build, with its commit;
// else the module version bgtask was built from (go install ...@v1.2.3,
// with the commit of a pseudo-version), or the VCS revision of a build
// from a checkout.
func Version() string {
	if v := stampedVersion(); v != "" {
		return v
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		if rev := PseudoCommit(v); rev != "" {
			return v + " (commit " + rev + ")"
		}
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev[:min(12, len(rev))] + dirty
}
