// Package gocmd runs the go command for tests the same way on every
// account: with Go's defaults, whatever the developer's own Go settings
// say. It removes GOFLAGS, sets GOENV=off (no go env file is read) and
// GOTELEMETRY=off, and passes on only where the caches are and how
// modules are fetched (GOCACHE, GOMODCACHE, GOPATH, GOPROXY, GOSUMDB,
// GONOSUMDB, GOPRIVATE, GOTOOLCHAIN), resolved once from the ambient
// settings, so that a test fills no temporary HOME with caches and needs
// no network for modules the test's own build already fetched.
//
// It does not stop the go command from writing its telemetry counters
// under the user's configuration folder: Go 1.26 reads its telemetry mode
// from a file there, not from the environment (GOTELEMETRY is not
// settable). A test that runs go under a HOME of its own and compares
// that HOME before and after turns telemetry off in it first (Off).
package gocmd

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// passed are the settings taken from the ambient Go environment.
var passed = []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN"}

var ambient = sync.OnceValues(func() ([]string, error) {
	c := exec.Command("go", append([]string{"env"}, passed...)...)
	c.Env = append(os.Environ(), "GOTELEMETRY=off")
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	vals := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(vals) != len(passed) {
		return nil, fmt.Errorf("go env printed %d values for %d names", len(vals), len(passed))
	}
	var env []string
	for i, v := range vals {
		if passed[i] == "GOTOOLCHAIN" && v == "" {
			continue
		}
		env = append(env, passed[i]+"="+v)
	}
	return env, nil
})

// Env returns base (os.Environ() when nil) made into Go's defaults as the
// package doc says. It skips the test when there is no go command.
func Env(t testing.TB, base []string) []string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command (Debian package golang-go)")
	}
	settings, err := ambient()
	if err != nil {
		t.Fatal(err)
	}
	if base == nil {
		base = os.Environ()
	}
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if k == "GOFLAGS" || k == "GOENV" || k == "GOTELEMETRY" || k == "GOWORK" || k == "GOOS" || k == "GOARCH" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GOENV=off", "GOTELEMETRY=off", "GOWORK=off"), settings...)
}

// Command is exec.Command("go", args...) with Env(t, nil).
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command("go", args...)
	c.Env = Env(t, nil)
	return c
}

// Off turns the go command's telemetry off for the account whose home is
// home (go telemetry off, which writes only home/.config/go/telemetry/mode),
// so that go commands run with that HOME write no counters there.
func Off(t testing.TB, home string) {
	t.Helper()
	c := Command(t, "telemetry", "off")
	c.Env = append(c.Env, "HOME="+home, "XDG_CONFIG_HOME=")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go telemetry off: %v\n%s", err, out)
	}
}
