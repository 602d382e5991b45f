package remotetest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BuildDist builds the lean bgtask-tool statically for this machine's
// platform into a new dist folder (bgtask-tool_<os>_<arch> and
// SHA256SUMS, the layout the installer fills) and returns the folder.
func BuildDist(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build bgtask-tool")
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("find the module: %v", err)
	}
	dist := t.TempDir()
	name := "bgtask-tool_" + runtime.GOOS + "_" + runtime.GOARCH
	c := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dist, name), "./cmd/bgtask-tool")
	c.Dir = strings.TrimSpace(string(root))
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("build bgtask-tool: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	sums := fmt.Sprintf("%x  %s\n", sha256.Sum256(b), name)
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	return dist
}
