package remotetest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/gocmd"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// BuildDist returns a new dist folder (the layout the installer fills:
// bgtask-tool_<os>_<arch> and SHA256SUMS) holding a static build of the
// lean bgtask-tool for this machine's platform. The build is made once per
// test process; each call gets its own copy, which the test may change.
func BuildDist(t testing.TB) string {
	t.Helper()
	env := gocmd.Env(t, nil) // Skips without the go command.
	leanOnce.Do(func() { leanBin, leanErr = leanBuild(env) })
	bin, err := leanBin, leanErr
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	name := remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})
	if err := os.WriteFile(filepath.Join(dist, name), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sums := fmt.Sprintf("%x  %s\n", sha256.Sum256(bin), name)
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	return dist
}

var (
	leanOnce sync.Once
	leanBin  []byte
	leanErr  error
)

// leanBuild builds cmd/bgtask-tool statically with the go command's
// environment env and returns its bytes (about 8 MB, kept in memory so
// that no folder outlives the test process). BuildDist builds it once.
func leanBuild(env []string) ([]byte, error) {
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}")
	list.Env = env
	root, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("find the module: %w", err)
	}
	tmp, err := os.MkdirTemp("", "bgtask-tool-build")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // Best effort: a temporary folder.
	out := filepath.Join(tmp, "bgtask-tool")
	c := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/bgtask-tool")
	c.Dir = strings.TrimSpace(string(root))
	c.Env = append(env, "CGO_ENABLED=0")
	if b, err := c.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build bgtask-tool: %v\n%s", err, b)
	}
	return os.ReadFile(out)
}

// DistVersion is the version the lean build in dist (of this machine's
// platform, as BuildDist makes it) prints for --version, as a Deployer's
// Version names it: a deploy checks that the two agree.
func DistVersion(t testing.TB, dist string) string {
	t.Helper()
	name := remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})
	out, err := exec.Command(filepath.Join(dist, name), "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", name, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "bgtask ")
}
