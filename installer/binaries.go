package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
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
			// Built there on first use of a host of p (see
			// remote.BuildOnDemand): one an earlier version built goes
			// now, and --uninstall removes the next one too.
			if err := os.Remove(filepath.Join(dst, name)); err == nil {
				in.printf("removed    %s (built for an earlier version)", filepath.Join(dst, name))
			}
			in.m.file(filepath.Join(dst, name), "")
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
	if err := in.writeFile(filepath.Join(dst, "SHA256SUMS"), sums.Bytes(), 0o644); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(dist, remote.SourceFile)); err == nil {
		return in.writeFile(filepath.Join(dst, remote.SourceFile), b, 0o644)
	}
	return nil
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

// buildDist builds the lean bgtask-tool for this machine into dir with
// the Go toolchain on PATH, from the module version this bgtask was built
// from (go install .../cmd/bgtask@VERSION), and records that version as
// the source the other platforms are built from on first use (see
// remote.BuildOnDemand). False when there is no Go, or when this bgtask
// was built from a checkout: no module version of it can be fetched (a
// +dirty one exists nowhere), and scripts/install.sh, run from the
// checkout, gives the lean build beside it.
func (in *installer) buildDist(ctx context.Context, a *toolbox.App, dir string) (bool, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false, nil
	}
	version, why := fetchableVersion(bi)
	if version == "" {
		in.printf("note       %s: no module version to fetch and build the lean %s from; run ./scripts/install.sh in the checkout instead", why, toolbox.LeanCommand)
		return false, nil
	}
	goCmd := lookPath("go", a.Getenv("PATH"))
	if goCmd == "" {
		return false, nil
	}
	if err := remote.WriteSource(dir, remote.Source{Module: bi.Main.Path, Version: version}); err != nil {
		return false, err
	}
	host := remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	var progress bytes.Buffer
	_, err := remote.BuildOnDemand(ctx, goCmd, dir, host, a.Environ, &progress)
	in.printf("%s", strings.TrimSpace(progress.String()))
	return err == nil, err
}

// fetchableVersion is the module version bi's main module can be fetched
// at, or "" and why not: only a build by `go install MODULE@VERSION`
// carries one. A build in a checkout carries version control settings,
// and since Go 1.24 a version made from them (a pseudo-version, +dirty
// with local changes) that no module proxy holds.
func fetchableVersion(bi *debug.BuildInfo) (version, why string) {
	v := bi.Main.Version
	switch {
	case bi.Main.Path == "" || v == "" || v == "(devel)":
		return "", "built from a checkout"
	case strings.HasSuffix(v, "+dirty"):
		return "", "built from a checkout with local changes (" + v + ")"
	}
	for _, s := range bi.Settings {
		if strings.HasPrefix(s.Key, "vcs.") {
			return "", "built from a checkout (" + v + ")"
		}
	}
	return v, ""
}

// installCall installs bgtask-call for --resident and returns what the
// toolbox entries and bg-reaper then run; without --resident it removes
// the bgtask-call an earlier --resident install left, and returns hot.
// bgtask-call hands calls to the bgtask-tool beside it: without a lean
// build (hot is bgtask) there is no call server to hand them to.
func (in *installer) installCall(hot string) (string, error) {
	dst := filepath.Join(in.paths.bin, callCommand)
	if in.call == "" {
		if i := slices.IndexFunc(in.m.Files, func(f installedFile) bool { return f.Path == dst }); i >= 0 {
			if err := os.Remove(dst); err == nil {
				in.printf("removed    %s (the toolbox entries run %s again)", dst, hot)
			}
			in.m.Files = slices.Delete(in.m.Files, i, i+1)
		}
		return hot, nil
	}
	if hot != toolbox.LeanCommand {
		in.printf("note       --resident needs the lean %s: the toolbox entries run %s", toolbox.LeanCommand, hot)
		return hot, nil
	}
	if err := in.installBinary(in.call, dst); err != nil {
		return "", err
	}
	in.printf("resident   the toolbox entries and bg-reaper run %s: each call goes to a %s that stays up while calls come", callCommand, toolbox.LeanCommand)
	return callCommand, nil
}

// stopCallServers ends the call servers of the bgtask-tool at tool, if
// any run (a --resident install's): the current build's, and those of
// earlier builds still running from a file since replaced, which would
// otherwise run on until idle. Best effort.
func (in *installer) stopCallServers(tool string) {
	addrs, err := callsock.Listening()
	if err != nil {
		return
	}
	if real, err := filepath.EvalSymlinks(tool); err == nil {
		tool = real // As /proc names a server's program.
	}
	for _, addr := range addrs {
		pid, err := callsock.Probe(addr)
		if err != nil || pid <= 0 {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || strings.TrimSuffix(exe, " (deleted)") != tool {
			continue // Another install's.
		}
		if syscall.Kill(pid, syscall.SIGTERM) != nil {
			continue
		}
		// Said once it is gone: it first waits for the calls in flight
		// (callserver.Serve, 10 s at most).
		deadline := time.Now().Add(15 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			in.printf("note       the call server of %s (pid %d) is still stopping", tool, pid)
			continue
		}
		in.printf("stopped    the call server of %s (pid %d)", tool, pid)
	}
}
