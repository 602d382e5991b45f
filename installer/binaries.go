package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Besides bgtask itself an install needs the lean bgtask-tool (the
// toolbox entries, bg-reaper and every supervisor run it) and the dist
// folder of lean builds for linux and darwin on amd64 and arm64, which
// remote deploy uploads; it goes to PREFIX/lib/amp-bg-tasks/dist, where
// the installed bgtask looks (remote.DistDir). They come, in this order:
// beside the running bgtask (scripts/install.sh, a release archive, the
// npm package); built with Go from the module bgtask was built from, when
// Go is at hand (after `go install .../cmd/bgtask@VERSION`); else bgtask
// itself serves as bgtask-tool, which starts slower.

// distPlatforms are the platforms a dist folder holds a build for.
func distPlatforms() []remote.Platform {
	return []remote.Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}, {OS: "darwin", Arch: "amd64"}, {OS: "darwin", Arch: "arm64"}}
}

// installLean installs the lean build and the dist folder for the bgtask
// at src, and returns the command the toolbox entries and bg-reaper run.
func (in *installer) installLean(ctx context.Context, a *toolbox.App, src string) (string, error) {
	host := remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	dist := remote.DistDir(a.Getenv, src)
	if !isFile(filepath.Join(dist, remote.DistName(host))) {
		dist = ""
		if tmp, err := os.MkdirTemp("", "bgtask-dist-"); err != nil {
			in.printf("note       no dist folder beside %s, and none built: %v", src, err)
		} else {
			defer func() { _ = os.RemoveAll(tmp) }() // Best effort: a temporary folder.
			switch built, err := in.buildDist(ctx, a, tmp); {
			case err != nil:
				in.printf("note       building the lean bgtask-tool failed, bgtask serves instead: %v", err)
			case built:
				dist = tmp
			}
		}
	}
	if dist != "" {
		if err := in.installDist(dist, filepath.Join(filepath.Dir(in.paths.bin), "lib", "amp-bg-tasks", "dist")); err != nil {
			return "", err
		}
	}
	lean := toolbox.LeanBeside(src)
	if lean != "" && sameFile(lean, src) {
		// The link an install without a lean build left: bgtask itself
		// (the installed one reinstalling itself).
		lean = ""
	}
	if lean == "" && dist != "" {
		lean = filepath.Join(dist, remote.DistName(host))
	}
	dst := filepath.Join(in.paths.bin, toolbox.LeanCommand)
	if lean == "" {
		// bgtask answers as bgtask-tool too: the entries, bg-reaper and
		// supervisors work, only each call starts slower.
		in.printf("note       no lean %s beside %s and no Go to build it: bgtask serves as %s (it starts slower; `bgtask install` with Go on PATH, the npm package or a release archive bring the lean build)", toolbox.LeanCommand, src, toolbox.LeanCommand)
		if err := in.link("bgtask", dst); err != nil {
			return "", err
		}
		return "bgtask", nil
	}
	if err := in.installBinary(lean, dst); err != nil {
		return "", err
	}
	return toolbox.LeanCommand, nil
}

// installDist copies the builds of dist, checked against its SHA256SUMS,
// and their checksums into dst.
func (in *installer) installDist(dist, dst string) error {
	var sums bytes.Buffer
	for _, p := range distPlatforms() {
		name := remote.DistName(p)
		path := filepath.Join(dist, name)
		if !isFile(path) {
			continue
		}
		want, err := remote.DistSum(dist, p)
		if err != nil {
			return err
		}
		if got, err := fileSHA256(path); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		} else if got != want {
			return fmt.Errorf("install %s: its checksum %s is not the one %s gives (%s): the dist folder is damaged", path, got, filepath.Join(dist, "SHA256SUMS"), want)
		}
		if err := in.installBinary(path, filepath.Join(dst, name)); err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%s  %s\n", want, name)
	}
	return in.writeFile(filepath.Join(dst, "SHA256SUMS"), sums.Bytes(), 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // Read only.
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sameFile reports whether paths a and b lead to the same file.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// buildDist builds the dist folder into dir with the Go toolchain on
// PATH, from the module version this bgtask was built from: false when
// there is no Go or no such version (a build from a checkout, whose
// scripts/install.sh builds it).
func (in *installer) buildDist(ctx context.Context, a *toolbox.App, dir string) (bool, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path == "" || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return false, nil
	}
	goCmd := lookPath("go", a.Getenv("PATH"))
	if goCmd == "" {
		return false, nil
	}
	return true, buildDistFrom(ctx, in.printf, goCmd, a.Environ, bi.Main.Path, bi.Main.Version, dir)
}

// buildDistFrom fetches module mod at version into the module cache and
// cross-builds its lean bgtask-tool for every dist platform into dir,
// stamped with version, and writes dir/SHA256SUMS.
func buildDistFrom(ctx context.Context, printf func(string, ...any), goCmd string, environ []string, mod, version, dir string) error {
	base := append(environ[:len(environ):len(environ)], "GOWORK=off", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	dl := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", mod+"@"+version)
	dl.Dir, dl.Env, dl.Stderr = dir, base, &stderr // Outside any module.
	out, err := dl.Output()
	var got struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &got); err != nil || jerr != nil || got.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %v %s %s", mod, version, err, got.Error, strings.TrimSpace(stderr.String()))
	}
	stamp := "-s -w -X " + mod + "/toolbox.version=" + version
	if rev := toolbox.PseudoCommit(version); rev != "" {
		stamp += " -X " + mod + "/toolbox.commit=" + rev
	}
	var sums bytes.Buffer
	for _, p := range distPlatforms() {
		name := remote.DistName(p)
		printf("building   %s for %s from %s@%s with %s", toolbox.LeanCommand, p, mod, version, goCmd)
		build := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", stamp, "-o", filepath.Join(dir, name), "./cmd/"+toolbox.LeanCommand)
		build.Dir, build.Env = got.Dir, append(base[:len(base):len(base)], "GOOS="+p.OS, "GOARCH="+p.Arch)
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s for %s: %w\n%s", toolbox.LeanCommand, p, err, out)
		}
		sum, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%s  %s\n", sum, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the dist checksums: %w", err)
	}
	return nil
}
