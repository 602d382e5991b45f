package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// foremanVersion is node-foreman's `nf`, the Procfile runner of npm.
const foremanVersion = "3.0.1"

// installForeman installs node-foreman into a temporary folder and
// returns its nf; it skips the test without npm or the registry.
func installForeman(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: installs the npm package foreman")
	}
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			helpers.MaySkip("hang")
			t.Skipf("%s not found: install Node and npm (the npm package foreman@%s gives nf, the Procfile runner this test compares with)", bin, foremanVersion)
		}
	}
	dir := t.TempDir()
	install := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", "foreman@"+foremanVersion)
	install.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("npm install foreman@%s failed (no registry?): %v\n%s", foremanVersion, err, out)
	}
	return filepath.Join(dir, "node_modules", ".bin", "nf")
}

// A Procfile run by bgtask up and by nf start gives each entry the same
// PORT: 5000, then 100 more each, or from the .env's PORT.
func TestProcfilePortsAsForeman(t *testing.T) {
	t.Parallel()
	nf := installForeman(t)
	names := []string{"web", "worker", "clock", "css"}
	var procfile strings.Builder
	procfile.WriteString("# as a Rails app has it\n")
	for _, n := range names {
		fmt.Fprintf(&procfile, "%s: echo $PORT > %s.port; %s\n", n, n, helpers.Shell("hang"))
	}
	for _, dotenv := range []string{"", "PORT=8000\nRAILS_ENV=development\n"} {
		project := func() string {
			dir := t.TempDir()
			files := map[string]string{"Procfile": procfile.String()}
			if dotenv != "" {
				files[".env"] = dotenv
			}
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}
		// nf start, in a process group of its own: it is stopped by it.
		nfDir := project()
		cmd := exec.Command(nf, "start")
		cmd.Dir = nfDir
		cmd.Env = withoutPort(os.Environ())
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		theirs := readPorts(t, nfDir, names)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Its processes: the test's own group.
		_ = cmd.Wait()

		a := toolboxtest.NewApp(t)
		a.Environ = withoutPort(a.Environ)
		a.Getenv = toolbox.EnvGetter(a.Environ)
		a.Wd = project()
		if out, errOut, code := runCLI(t, a, "up"); code != toolbox.ExitOK {
			t.Fatalf("up: %d %q %q", code, out, errOut)
		}
		ours := readPorts(t, a.Wd, names)
		if !slices.Equal(ours, theirs) {
			t.Errorf(".env %q: bgtask up gives PORT %q, nf start %q", dotenv, ours, theirs)
		}
		if want := map[bool]string{true: "5000", false: "8000"}[dotenv == ""]; theirs[0] != want {
			t.Errorf(".env %q: the first entry got %s from nf, want %s", dotenv, theirs[0], want)
		}
		if _, _, code := runCLI(t, a, "down"); code != toolbox.ExitOK {
			t.Error("down failed")
		}
	}
}

// readPorts waits for each entry's NAME.port file and returns the PORTs
// they hold, in names' order.
func readPorts(t *testing.T, dir string, names []string) []string {
	t.Helper()
	out := make([]string, len(names))
	deadline := time.Now().Add(60 * time.Second)
	for i, n := range names {
		for {
			b, err := os.ReadFile(filepath.Join(dir, n+".port"))
			if err == nil && strings.HasSuffix(string(b), "\n") {
				out[i] = strings.TrimSpace(string(b))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s.port in %s after 60 s", n, dir)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out
}

func withoutPort(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "PORT=") })
}
