package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
)

// An install need not cross-build the lean bgtask-tool for every platform
// a remote host may run (four builds: most of a cold install's minutes).
// Instead the dist folder may hold SourceFile, which says where this very
// build came from; the first use of a host whose platform has no build
// there builds it, with the Go on PATH, into the dist folder, and later
// uses find it like any other build. It never builds other code than the
// local bgtask was built from: a checkout that has moved to another commit
// since is refused with what to do.

// SourceFile is the file of a dist folder that says where its missing
// builds are made from.
const SourceFile = "build-source"

// Source is where the lean bgtask-tool can be built from: a checkout
// (scripts/install.sh) or a module version in the module cache (go
// install). Stored as JSON in a dist folder's SourceFile.
type Source struct {
	Dir     string `json:"dir,omitempty"`     // a checkout, the module's root
	Module  string `json:"module,omitempty"`  // or a module path ...
	Version string `json:"version,omitempty"` // ... at this version
}

// WriteSource records src in the dist folder dist.
func WriteSource(dist string, src Source) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dist, SourceFile), append(b, '\n'), 0o644)
}

// ReadSource reads the dist folder's SourceFile; ok is false when there
// is none.
func ReadSource(dist string) (src Source, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dist, SourceFile))
	if errors.Is(err, os.ErrNotExist) {
		return Source{}, false, nil
	}
	if err != nil {
		return Source{}, false, fmt.Errorf("read %s: %w", SourceFile, err)
	}
	if err := json.Unmarshal(b, &src); err != nil || (src.Dir == "") == (src.Module == "" || src.Version == "") {
		return Source{}, false, fmt.Errorf("%s holds no valid build source: reinstall (./scripts/install.sh)", filepath.Join(dist, SourceFile))
	}
	return src, true, nil
}

// leanPackage is the lean build's main package, from the module's root.
const leanPackage = "./cmd/bgtask-tool"

// BuildOnDemand builds the lean bgtask-tool for p from the dist folder's
// source into dist with goCmd, adds its checksum to SHA256SUMS and returns
// it. Parallel calls for one dist folder build once. progress, when not
// nil, is told what is being built.
func BuildOnDemand(ctx context.Context, goCmd, dist string, p Platform, environ []string, progress io.Writer) (Binary, error) {
	src, ok, err := ReadSource(dist)
	if err != nil {
		return Binary{}, err
	}
	if !ok {
		return Binary{}, fmt.Errorf("no %s in %s", SourceFile, dist)
	}
	unlock, err := lockDir(dist)
	if err != nil {
		return Binary{}, err
	}
	defer unlock()
	name := DistName(p)
	path := filepath.Join(dist, name)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		// Built by a parallel call while this one waited.
		if sum, err := DistSum(dist, p); err == nil {
			return Binary{Path: path, SHA256: sum}, nil
		}
	}
	env := append(environ[:len(environ):len(environ)], "GOWORK=off", "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	dir, ldflags := src.Dir, "-s -w"
	if src.Module != "" {
		dl := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", src.Module+"@"+src.Version)
		dl.Dir, dl.Env = dist, env // Outside any module.
		out, err := dl.Output()
		var got struct{ Dir, Error string }
		if jerr := json.Unmarshal(out, &got); err != nil || jerr != nil || got.Dir == "" {
			return Binary{}, fmt.Errorf("build bgtask-tool for %s: go mod download %s@%s: %v %s", p, src.Module, src.Version, err, got.Error)
		}
		dir = got.Dir
		ldflags += " -X " + src.Module + "/toolbox.version=" + src.Version
		if rev := pseudoCommit(src.Version); rev != "" {
			ldflags += " -X " + src.Module + "/toolbox.commit=" + rev
		}
	}
	if progress != nil {
		fmt.Fprintf(progress, "building   bgtask-tool for %s from %s (first use of a %s host)\n", p, dir, p)
	}
	tmp := path + ".building"
	build := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, leanPackage)
	build.Dir, build.Env = dir, env
	if out, err := build.CombinedOutput(); err != nil {
		_ = os.Remove(tmp) // Best effort: a failed build's leftover.
		return Binary{}, fmt.Errorf("build bgtask-tool for %s in %s: %w\n%s", p, dir, err, out)
	}
	if self, ok := debug.ReadBuildInfo(); ok && src.Dir != "" {
		if err := sameRevision(ctx, goCmd, env, tmp, vcsRevision(self.Settings)); err != nil {
			_ = os.Remove(tmp) // Best effort: not ours to deploy.
			return Binary{}, fmt.Errorf("build bgtask-tool for %s from the checkout %s: %w; run ./scripts/install.sh there again (it installs the commit it holds), or build every remote build at install with ./scripts/install.sh --dist", p, src.Dir, err)
		}
	}
	sum, err := localSHA256(ctx, tmp)
	if err != nil {
		return Binary{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return Binary{}, fmt.Errorf("build bgtask-tool for %s: %w", p, err)
	}
	if err := addSum(dist, name, sum); err != nil {
		return Binary{}, err
	}
	return Binary{Path: path, SHA256: sum}, nil
}

// sameRevision checks that the build at path comes from commit want (the
// running program's), as far as its build info says: a checkout checked
// out elsewhere since the install must not be deployed as this version.
// want "" (a build without version control information) checks nothing.
// The build info is read with `go version -m` (the toolchain that just
// built it is at hand): reading it here would link debug/elf, macho, pe
// and dwarf into every tool call's start-up for this one rare check.
func sameRevision(ctx context.Context, goCmd string, env []string, path, want string) error {
	if want == "" {
		return nil
	}
	cmd := exec.CommandContext(ctx, goCmd, "version", "-m", path)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("read its build info (go version -m): %w", err)
	}
	if got := revisionInVersionM(string(out)); got != want {
		return fmt.Errorf("the checkout is at commit %s, bgtask was built from %s", short(got), short(want))
	}
	return nil
}

// revisionInVersionM finds vcs.revision in the output of `go version -m`,
// whose build settings are lines "\tbuild\tKEY=VALUE".
func revisionInVersionM(out string) string {
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == "build" {
			if v, ok := strings.CutPrefix(fields[1], "vcs.revision="); ok {
				return v
			}
		}
	}
	return ""
}

func vcsRevision(settings []debug.BuildSetting) string {
	for _, s := range settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}

func short(rev string) string {
	if rev == "" {
		return "(unknown)"
	}
	return rev[:min(12, len(rev))]
}

// addSum sets name's line in dist's SHA256SUMS to sum.
func addSum(dist, name, sum string) error {
	path := filepath.Join(dist, "SHA256SUMS")
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read the checksums of the dist folder: %w", err)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(string(old), "\n"), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.TrimPrefix(f[1], "*") != name {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString(sum + "  " + name + "\n")
	return atomicfile.WriteFile(path, []byte(b.String()), 0o644)
}

// pseudoCommit is the commit a Go pseudo-version names, "" for any other
// version (as toolbox.PseudoCommit, which this package cannot import).
func pseudoCommit(v string) string {
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 || strings.Count(v, "-") < 2 || strings.Trim(v[i+1:], "0123456789abcdef") != "" {
		return ""
	}
	return v[i+1:]
}
