package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/gocmd"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// moduleRoot is the checkout these tests run in.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := gocmd.Command(t, "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// A dist folder that names its source gets a platform's build on first
// use, checked in its SHA256SUMS, static and for that platform; a second
// use, and parallel ones, build nothing more.
func TestBuildOnDemandFromCheckout(t *testing.T) {
	t.Parallel()
	env := gocmd.Env(t, nil)
	dist := t.TempDir()
	if err := remote.WriteSource(dist, remote.Source{Dir: moduleRoot(t)}); err != nil {
		t.Fatal(err)
	}
	if src, ok, err := remote.ReadSource(dist); err != nil || !ok || src.Dir == "" {
		t.Fatalf("ReadSource: %+v %v %v", src, ok, err)
	}
	here := remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	bins := make([]remote.Binary, 3)
	errs := make([]error, 3)
	var progress [3]bytes.Buffer
	for i := range bins {
		wg.Go(func() { bins[i], errs[i] = remote.BuildOnDemand(ctx, "go", dist, here, env, &progress[i]) })
	}
	wg.Wait()
	built := 0
	for i := range bins {
		if errs[i] != nil {
			t.Fatalf("build %d: %v", i, errs[i])
		}
		if bins[i] != bins[0] {
			t.Errorf("parallel builds gave %+v and %+v", bins[i], bins[0])
		}
		if strings.Contains(progress[i].String(), "building") {
			built++
		}
	}
	if built != 1 {
		t.Errorf("%d of 3 parallel first uses built; want 1", built)
	}
	b := bins[0]
	if b.Path != filepath.Join(dist, remote.DistName(here)) {
		t.Errorf("built %s", b.Path)
	}
	data, err := os.ReadFile(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != b.SHA256 {
		t.Errorf("checksum %s, file's %s", b.SHA256, got)
	}
	if sum, err := remote.DistSum(dist, here); err != nil || sum != b.SHA256 {
		t.Errorf("SHA256SUMS says %s (%v), want %s", sum, err, b.SHA256)
	}
	bi, err := buildinfo.ReadFile(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["GOOS"] != here.OS || settings["GOARCH"] != here.Arch || bi.Path != "github.com/amp-bg-tasks/amp-bg-tasks/cmd/bgtask-tool" {
		t.Errorf("built %s with %v", bi.Path, settings)
	}
	// It runs.
	if out, err := exec.Command(b.Path, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "bgtask") {
		t.Errorf("%s --version: %v %s", b.Path, err, out)
	}
	// FindBinary now finds it, for a host of this platform, without a
	// local lean build and without building again.
	fi, _ := os.Stat(b.Path)
	got, err := remote.FindBinary(ctx, func(k string) string { return map[string]string{"BG_DIST_DIR": dist}[k] }, "", "", here, "")
	if fi2, _ := os.Stat(b.Path); err != nil || got != b || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("FindBinary after the build: %+v, %v", got, err)
	}
	// A build from another commit than the running program's is refused.
	if err := remote.SameRevision(ctx, "go", env, b.Path, "0123456789abcdef0123456789abcdef01234567"); err == nil || !strings.Contains(err.Error(), "0123456789ab") {
		t.Errorf("another commit: %v", err)
	}
	if err := remote.SameRevision(ctx, "go", env, b.Path, ""); err != nil {
		t.Errorf("no commit to compare with: %v", err)
	}
}

// The first use of a host of another platform builds its binary (a cross
// build: slow the first time on a cold build cache).
func TestFindBinaryBuildsAnotherPlatformOnFirstUse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds bgtask-tool (a minute on a cold build cache)")
	}
	t.Parallel()
	dist := t.TempDir()
	if err := remote.WriteSource(dist, remote.Source{Dir: moduleRoot(t)}); err != nil {
		t.Fatal(err)
	}
	other := remote.Platform{OS: "linux", Arch: "arm64"}
	if runtime.GOARCH == "arm64" {
		other.Arch = "amd64"
	}
	// FindBinary builds with the go command on PATH, in the process's
	// own environment, as a tool call does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	getenv := func(k string) string { return map[string]string{"BG_DIST_DIR": dist}[k] }
	bin, err := remote.FindBinary(ctx, getenv, "", "", other, "Linux aarch64")
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := remote.DistSum(dist, other); err != nil || sum != bin.SHA256 || bin.Path != filepath.Join(dist, remote.DistName(other)) {
		t.Errorf("built %+v; SHA256SUMS says %s (%v)", bin, sum, err)
	}
	bi, err := buildinfo.ReadFile(bin.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "GOARCH" && s.Value != other.Arch {
			t.Errorf("built for %s, want %s", s.Value, other.Arch)
		}
	}
}

// No source, no Go: the error says how to get a build.
func TestFindBinaryWithoutSourceSaysWhatToDo(t *testing.T) {
	t.Parallel()
	dist := t.TempDir()
	_, err := remote.FindBinary(context.Background(), func(k string) string { return map[string]string{"BG_DIST_DIR": dist}[k] }, "", "", remote.Platform{OS: "darwin", Arch: "arm64"}, "Darwin arm64")
	if err == nil || !strings.Contains(err.Error(), "./scripts/install.sh") {
		t.Errorf("error %v", err)
	}
	if err := os.WriteFile(filepath.Join(dist, remote.SourceFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = remote.FindBinary(context.Background(), func(k string) string { return map[string]string{"BG_DIST_DIR": dist}[k] }, "", "", remote.Platform{OS: "darwin", Arch: "arm64"}, "Darwin arm64")
	if err == nil || !strings.Contains(err.Error(), "no valid build source") {
		t.Errorf("a damaged source file: %v", err)
	}
}

// The commit is read from `go version -m`'s build settings, and only there.
func TestRevisionInVersionM(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"/x/bgtask-tool: go1.26.8\n\tpath\tgithub.com/amp-bg-tasks/amp-bg-tasks/cmd/bgtask-tool\n\tbuild\tCGO_ENABLED=0\n\tbuild\tvcs=git\n\tbuild\tvcs.revision=0595993c3f1e\n\tbuild\tvcs.modified=false\n", "0595993c3f1e"},
		{"/x/bgtask-tool: go1.26.8\n\tbuild\t-trimpath=true\n\tbuild\tGOOS=linux\n", ""},
		{"/x/vcs.revision=feed: go1.26.8\n\tdep\tvcs.revision=beef\tv1\n", ""},
		{"", ""},
	} {
		if got := remote.RevisionInVersionM(tc.out); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.out, got, tc.want)
		}
	}
}
