package installer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// pkgLayout makes the layout of a release archive or an npm platform
// package in a temporary folder: bin/bgtask and, unless dist is nil,
// lib/amp-bg-tasks/dist with a build per platform (its content its name)
// and their SHA256SUMS. It returns the path of bin/bgtask.
func pkgLayout(t *testing.T, dist map[string]string) string {
	t.Helper()
	root := t.TempDir()
	bgtask := filepath.Join(root, "bin", "bgtask")
	write := func(path, content string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(bgtask, "#!/bin/sh\necho full bgtask\n", 0o755)
	if dist == nil {
		return bgtask
	}
	dir := filepath.Join(root, "lib", "amp-bg-tasks", "dist")
	var sums strings.Builder
	for _, p := range distPlatforms() {
		name := remote.DistName(p)
		content := "lean build " + name + "\n"
		sum := sha256.Sum256([]byte(content))
		write(filepath.Join(dir, name), content, 0o755)
		if s, ok := dist[name]; ok {
			content = s // A damaged file: the checksum is of the original.
			write(filepath.Join(dir, name), content, 0o755)
		}
		sums.WriteString(hex.EncodeToString(sum[:]) + "  " + name + "\n")
	}
	write(filepath.Join(dir, "SHA256SUMS"), sums.String(), 0o644)
	return bgtask
}

func installFrom(t *testing.T, home, bgtask string, args ...string) (string, toolbox.ExitCode) {
	t.Helper()
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "BG_DIST_DIR=", "PATH=/nonexistent")
	a.Executable = bgtask
	var out, errOut strings.Builder
	a.Stdout, a.Stderr = &out, &errOut
	code := runCLI(t.Context(), a, append([]string{"install", "--shell", "none", "--agents", "none"}, args...))
	return out.String() + errOut.String(), code
}

// A release archive or npm package carries no bgtask-tool in bin/, only
// the dist folder: the install takes this platform's lean build from it
// and copies the whole folder beside the installed bgtask, where remote
// deploy looks; the uninstall takes all of it away.
func TestInstallLeanFromDist(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bgtask := pkgLayout(t, map[string]string{})
	out, code := installFrom(t, home, bgtask)
	if code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	bin := filepath.Join(home, ".local", "bin")
	host := remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})
	if got := tasktest.ReadFile(t, filepath.Join(bin, toolbox.LeanCommand)); got != "lean build "+host+"\n" {
		t.Errorf("installed %s holds %q, want the dist's %s", toolbox.LeanCommand, got, host)
	}
	if target, err := filepath.EvalSymlinks(filepath.Join(home, ".config", "amp", "tools", "bg-run")); err != nil || filepath.Base(target) != toolbox.LeanCommand {
		t.Errorf("bg-run runs %q (%v), want %s", target, err, toolbox.LeanCommand)
	}
	installed := filepath.Join(home, ".local", "lib", "amp-bg-tasks", "dist")
	if got := remote.DistDir(func(string) string { return "" }, filepath.Join(bin, "bgtask")); filepath.Clean(got) != installed {
		t.Fatalf("the installed bgtask looks for its dist folder in %s, the install put it in %s", got, installed)
	}
	sums := tasktest.ReadFile(t, filepath.Join(installed, "SHA256SUMS"))
	for _, p := range distPlatforms() {
		name := remote.DistName(p)
		if got := tasktest.ReadFile(t, filepath.Join(installed, name)); got != "lean build "+name+"\n" {
			t.Errorf("%s holds %q", name, got)
		}
		if !strings.Contains(sums, "  "+name+"\n") {
			t.Errorf("SHA256SUMS lacks %s:\n%s", name, sums)
		}
	}
	// The installed bgtask reinstalling itself finds its own dist folder.
	if out, code := installFrom(t, home, filepath.Join(bin, "bgtask")); code != toolbox.ExitOK || strings.Contains(out, "installed ") {
		t.Errorf("reinstall from the installed bgtask (exit %d) changed something:\n%s", code, out)
	}
	if out, code := installFrom(t, home, bgtask, "--uninstall"); code != toolbox.ExitOK {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "lib")); !os.IsNotExist(err) {
		t.Errorf("uninstall left %s: %v", filepath.Join(home, ".local", "lib"), err)
	}
}

// A dist file that is not what SHA256SUMS says is refused, not
// installed, and the message names it.
func TestInstallDamagedDist(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bgtask := pkgLayout(t, map[string]string{"bgtask-tool_linux_arm64": "truncated"})
	out, code := installFrom(t, home, bgtask)
	if code == toolbox.ExitOK || !strings.Contains(out, "bgtask-tool_linux_arm64") || !strings.Contains(out, "damaged") {
		t.Fatalf("install of a damaged dist: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "lib", "amp-bg-tasks", "dist", "bgtask-tool_linux_arm64")); !os.IsNotExist(err) {
		t.Errorf("the damaged build was installed: %v", err)
	}
}

// With neither a lean build beside it nor Go to build one (here a build
// from a checkout, which has no module version to fetch), bgtask serves
// as bgtask-tool, and says so.
func TestInstallWithoutLean(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bgtask := pkgLayout(t, nil)
	out, code := installFrom(t, home, bgtask)
	if code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "bgtask serves as "+toolbox.LeanCommand) {
		t.Errorf("install did not say bgtask serves as the lean build:\n%s", out)
	}
	lean := filepath.Join(home, ".local", "bin", toolbox.LeanCommand)
	if target, err := os.Readlink(lean); err != nil || target != "bgtask" {
		t.Errorf("%s -> %q (%v), want bgtask", lean, target, err)
	}
	if toolbox.LeanBeside(filepath.Join(home, ".local", "bin", "bgtask")) == "" {
		t.Errorf("supervisors find no %s beside the installed bgtask", toolbox.LeanCommand)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "lib")); !os.IsNotExist(err) {
		t.Errorf("an install without dist made %s: %v", filepath.Join(home, ".local", "lib"), err)
	}
	// The installed bgtask reinstalling itself does not take the link
	// to itself for a lean build: it says again that bgtask serves, and
	// the record keeps the link as a link.
	out, code = installFrom(t, home, filepath.Join(home, ".local", "bin", "bgtask"))
	if code != toolbox.ExitOK || !strings.Contains(out, "bgtask serves as "+toolbox.LeanCommand) || !strings.Contains(out, "kept       "+lean+" -> bgtask") || strings.Contains(out, "linked ") {
		t.Errorf("reinstall from the installed bgtask (exit %d):\n%s", code, out)
	}
	if target, err := os.Readlink(lean); err != nil || target != "bgtask" {
		t.Errorf("after the reinstall %s -> %q (%v), want bgtask", lean, target, err)
	}
	record := tasktest.ReadFile(t, filepath.Join(home, ".config", "amp-bg-tasks", "install.json"))
	if want := jsonText(installedFile{Path: lean, Link: "bgtask"}); !strings.Contains(strings.Join(strings.Fields(record), ""), want) {
		t.Errorf("the install record lacks %s:\n%s", want, record)
	}
}

// --resident links the toolbox entries and bg-reaper to the bgtask-call
// beside bgtask, installed beside bgtask-tool (which it hands calls to);
// a later install without it links them to bgtask-tool again and takes
// bgtask-call away; without a bgtask-call to install it refuses, before
// it has installed anything.
func TestInstallResident(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bgtask := pkgLayout(t, map[string]string{})
	if out, code := installFrom(t, home, bgtask, "--resident"); code == toolbox.ExitOK || !strings.Contains(out, "no "+callCommand+" beside") {
		t.Fatalf("--resident without bgtask-call: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".local")); !os.IsNotExist(err) {
		t.Fatalf("the refused install created %s: %v", filepath.Join(home, ".local"), err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(bgtask), callCommand), []byte("#!/bin/sh\necho call\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(home, ".local", "bin")
	runs := func(entry string) string {
		t.Helper()
		target, err := filepath.EvalSymlinks(entry)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(target) != bin {
			t.Errorf("%s runs %s, not a program in %s", entry, target, bin)
		}
		return filepath.Base(target)
	}
	entries := []string{filepath.Join(home, ".config", "amp", "tools", "bg-run"), filepath.Join(bin, "bg-reaper")}
	out, code := installFrom(t, home, bgtask, "--resident")
	if code != toolbox.ExitOK {
		t.Fatalf("install --resident: exit %d\n%s", code, out)
	}
	for _, e := range entries {
		if got := runs(e); got != callCommand {
			t.Errorf("after --resident, %s runs %s, want %s", e, got, callCommand)
		}
	}
	if got := tasktest.ReadFile(t, filepath.Join(bin, callCommand)); got != "#!/bin/sh\necho call\n" {
		t.Errorf("installed %s holds %q", callCommand, got)
	}
	if _, err := os.Stat(filepath.Join(bin, toolbox.LeanCommand)); err != nil {
		t.Errorf("bgtask-call has no %s beside it to hand calls to: %v", toolbox.LeanCommand, err)
	}
	doctor := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH="+bin+":/usr/bin:/bin", "AMP_TOOLBOX=")
	var report strings.Builder
	doctor.Stdout, doctor.Stderr = &report, &report
	runCLI(t.Context(), doctor, []string{"doctor"})
	if want := "ok    the toolbox entries run " + filepath.Join(bin, callCommand) + " (install --resident): calls go to the call server of " + filepath.Join(bin, toolbox.LeanCommand) + " (none runs now"; !strings.Contains(report.String(), want) {
		t.Errorf("doctor lacks %q:\n%s", want, report.String())
	}
	out, code = installFrom(t, home, bgtask)
	if code != toolbox.ExitOK {
		t.Fatalf("install without --resident: exit %d\n%s", code, out)
	}
	for _, e := range entries {
		if got := runs(e); got != toolbox.LeanCommand {
			t.Errorf("after an install without --resident, %s runs %s, want %s", e, got, toolbox.LeanCommand)
		}
	}
	if _, err := os.Stat(filepath.Join(bin, callCommand)); !os.IsNotExist(err) {
		t.Errorf("the install without --resident left %s: %v", callCommand, err)
	}
	if _, code := installFrom(t, home, bgtask, "--resident"); code != toolbox.ExitOK {
		t.Fatal("install --resident again failed")
	}
	if out, code := installFrom(t, home, bgtask, "--uninstall"); code != toolbox.ExitOK {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".local")); !os.IsNotExist(err) {
		t.Errorf("uninstall left %s: %v", filepath.Join(home, ".local"), err)
	}
}

// --uninstall ends the call servers of the installed bgtask-tool: the
// current build's and an earlier one's, still running from a file since
// replaced; a server of another install runs on.
func TestUninstallStopsTheCallServers(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the call server runs on Linux only")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, other := t.TempDir(), t.TempDir()
	tool := filepath.Join(bin, toolbox.LeanCommand)
	install := func(path string) {
		t.Helper()
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".new", b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil { // As installs replace a file.
			t.Fatal(err)
		}
	}
	start := func(path string) *exec.Cmd {
		t.Helper()
		c := exec.Command(path)
		c.Env = append(os.Environ(), helpers.EnvFor("call-server"))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = c.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = c.Process.Kill() // Ours, by pid.
			<-exited
		})
		addr, err := callsock.Address(path)
		if err != nil {
			t.Fatal(err)
		}
		tasktest.WaitFor(t, "the server of "+path+" to listen", func() bool {
			pid, err := callsock.Probe(addr)
			return err == nil && pid == c.Process.Pid
		})
		return c
	}
	install(tool)
	old := start(tool)
	install(tool) // An upgrade: the old server runs on from a removed file.
	current := start(tool)
	install(filepath.Join(other, toolbox.LeanCommand))
	elsewhere := start(filepath.Join(other, toolbox.LeanCommand))

	var out strings.Builder
	in := &installer{out: &out}
	in.stopCallServers(tool)
	for _, c := range []*exec.Cmd{old, current} {
		// Said once it ended: these are the test's children, so ended
		// means a zombie until the test reaps it.
		if syscall.Kill(c.Process.Pid, 0) == nil && !isZombie(c.Process.Pid) {
			t.Errorf("the server %d runs on after the uninstall said it stopped it", c.Process.Pid)
		}
		if !strings.Contains(out.String(), fmt.Sprintf("stopped    the call server of %s (pid %d)", tool, c.Process.Pid)) {
			t.Errorf("the uninstall does not say it stopped %d:\n%s", c.Process.Pid, out.String())
		}
	}
	if syscall.Kill(elsewhere.Process.Pid, 0) != nil || isZombie(elsewhere.Process.Pid) {
		t.Error("the server of another install was stopped")
	}
}

// isZombie reports whether pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}
