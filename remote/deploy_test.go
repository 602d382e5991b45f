package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/remotetest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

func TestParseUname(t *testing.T) {
	for in, want := range map[string]string{
		"Linux x86_64\n": "linux/amd64", "Linux aarch64": "linux/arm64", "Darwin arm64": "darwin/arm64",
		"Darwin x86_64": "darwin/amd64", "FreeBSD amd64": "", "Linux riscv64": "", "": "", "Linux": "",
	} {
		p, err := remote.ParseUname(in)
		if got := p.String(); (want == "" && err == nil) || (want != "" && got != want) {
			t.Errorf("ParseUname(%q) = %s, %v; want %q", in, got, err, want)
		}
	}
}

func TestIsStaticELF(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds and deploys the lean binaries")
	}
	if runtime.GOOS != "linux" {
		t.Skip("ELF binaries on Linux")
	}
	dist := remotetest.BuildDist(t)
	f, err := os.Open(filepath.Join(dist, remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := remote.IsStaticELF(f); !ok || err != nil {
		t.Errorf("a CGO_ENABLED=0 build: static %v, %v", ok, err)
	}
	// The system's ssh is linked dynamically.
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no ssh")
	}
	g, err := os.Open(ssh)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if ok, err := remote.IsStaticELF(g); ok || err != nil {
		t.Errorf("%s: static %v, %v; want dynamic", ssh, ok, err)
	}
	if _, err := remote.IsStaticELF(strings.NewReader("#!/bin/sh\n")); err == nil {
		t.Error("a script taken for an ELF file")
	}
}

func FuzzIsStaticELF(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add(append([]byte("\x7fELF\x01\x02\x01"), make([]byte, 80)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = remote.IsStaticELF(bytes.NewReader(b)) // Must not panic or hang.
	})
}

func TestFindBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds and deploys the lean binaries")
	}
	here := remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	dist := t.TempDir()
	name := remote.DistName(here)
	if err := os.WriteFile(filepath.Join(dist, name), []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := strings.Repeat("ab", 32)
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(sum+" *"+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BG_DIST_DIR": dist}
	getenv := func(k string) string { return env[k] }
	b, err := remote.FindBinary(context.Background(), getenv, "", "", here, "Linux x86_64")
	if err != nil || b.Path != filepath.Join(dist, name) || b.SHA256 != sum {
		t.Errorf("from BG_DIST_DIR: %+v, %v", b, err)
	}
	// Beside the executable: <bin>/../lib/amp-bg-tasks/dist.
	prefix := t.TempDir()
	beside := filepath.Join(prefix, "lib", "amp-bg-tasks", "dist")
	if err := os.MkdirAll(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dist, name), filepath.Join(beside, name)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dist, "SHA256SUMS"), filepath.Join(beside, "SHA256SUMS")); err != nil {
		t.Fatal(err)
	}
	delete(env, "BG_DIST_DIR")
	b, err = remote.FindBinary(context.Background(), getenv, filepath.Join(prefix, "bin", "bgtask"), "", here, "")
	if err != nil || b.Path != filepath.Join(beside, name) {
		t.Errorf("beside the executable: %+v, %v", b, err)
	}
	// No checksum line: refused.
	if err := os.WriteFile(filepath.Join(beside, "SHA256SUMS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.FindBinary(context.Background(), getenv, filepath.Join(prefix, "bin", "bgtask"), "", here, ""); err == nil || !strings.Contains(err.Error(), "no checksum") {
		t.Errorf("without its checksum: %v", err)
	}
	// None fits: the error names the host's uname and how to get one.
	other := remote.Platform{OS: "darwin", Arch: "arm64"}
	if here == other {
		other.OS = "linux"
	}
	_, err = remote.FindBinary(context.Background(), getenv, "", "", other, "Weird 42")
	for _, w := range []string{"Weird 42", "install.sh", "GOOS=" + other.OS, "BG_DIST_DIR"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("none fits: %v; want it to say %q", err, w)
		}
	}
	// This platform, no dist: the local lean build when it is static.
	if runtime.GOOS == "linux" {
		static := remotetest.BuildDist(t)
		lean := filepath.Join(static, name)
		b, err = remote.FindBinary(context.Background(), getenv, "", lean, here, "")
		if err != nil || b.Path != lean || len(b.SHA256) != 64 {
			t.Errorf("the local static build: %+v, %v", b, err)
		}
		if ssh, err := exec.LookPath("ssh"); err == nil {
			if _, err := remote.FindBinary(context.Background(), getenv, "", ssh, here, ""); err == nil {
				t.Error("a dynamically linked local build was taken")
			}
		}
	}
}

var toolLinks = []string{"bg-run", "bg-status", "bg-output", "bg-stop", "bg-send"}

func newDeployer(t *testing.T, srv *remotetest.Server, dist string) *remote.Deployer {
	t.Helper()
	s := newSSH(t, srv)
	env := map[string]string{"BG_DIST_DIR": dist}
	return &remote.Deployer{Transport: s, Getenv: func(k string) string { return env[k] },
		Version: remotetest.DistVersion(t, dist), Binary: "bgtask-tool", Links: toolLinks, ToolEntry: func(tool string) string { return strings.ReplaceAll(tool, "_", "-") },
		ReapBefore: "bg_run", StateDir: t.TempDir()}
}

func TestDeployCopiesVerifiesAndReuses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds and deploys the lean binaries")
	}
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	dist := remotetest.BuildDist(t)
	d := newDeployer(t, srv, dist)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := d.Deploy(ctx, srv.Alias)
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, srv.Log())
	}
	if !dep.Copied || dep.Platform != runtime.GOOS+"/"+runtime.GOARCH || !strings.HasPrefix(dep.Dir, remote.BinDir+"/"+taskid.FileName(d.Version)+"-") {
		t.Errorf("deployed %+v", dep)
	}
	// There: the binary, 0700 folders, owned by the remote user, links.
	got := srv.Run(t, "cd; stat -c '%a %U %n' .local/share/amp-bg-tasks "+remote.BinDir+" "+dep.Dir+" "+dep.Dir+"/bgtask-tool; readlink "+dep.Dir+"/bg-run; sha256sum "+dep.Dir+"/bgtask-tool")
	for _, w := range []string{"700 " + srv.User + " .local/share/amp-bg-tasks", "700 " + srv.User + " " + dep.Dir + "\n", "700 " + srv.User + " " + dep.Dir + "/bgtask-tool", "\nbgtask-tool\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("remote folder:\n%s\nwant %q", got, w)
		}
	}
	// The remote user's PATH has no bgtask: we run ours by its path.
	if out := srv.Run(t, "command -v bgtask bgtask-tool bg-run || echo none"); strings.TrimSpace(out) != "none" {
		t.Errorf("bgtask on the remote PATH: %s", out)
	}
	ans, failed, err := d.Tool(ctx, srv.Alias, "bg_status", []byte(`{}`))
	if err != nil || failed {
		t.Fatalf("bg_status there: %s, %v, %v", ans, failed, err)
	}
	var list struct {
		Tasks []any `json:"tasks"`
	}
	if err := json.Unmarshal(ans, &list); err != nil || list.Tasks == nil {
		t.Errorf("bg_status answer %s: %v", ans, err)
	}
	ans, failed, err = d.Tool(ctx, srv.Alias, "bg_output", []byte(`{}`))
	if err != nil || !failed || !strings.Contains(string(ans), "task_id") {
		t.Errorf("a tool error there: %s, failed %v, %v", ans, failed, err)
	}

	// Another bgtask (no record) finds it there and copies nothing.
	d2 := newDeployer(t, srv, dist)
	dep2, err := d2.Deploy(ctx, srv.Alias)
	if err != nil || dep2.Copied || dep2.Dir != dep.Dir {
		t.Errorf("second deploy: %+v, %v; want the same folder, no copy", dep2, err)
	}
	// Removed there behind our back: the next tool call deploys again.
	srv.Run(t, "rm -rf ~/"+remote.BinDir)
	if _, failed, err := d.Tool(ctx, srv.Alias, "bg_status", []byte(`{}`)); err != nil || failed {
		t.Fatalf("after removal: %v", err)
	}
	srv.Run(t, "test -x ~/"+dep.Dir+"/bgtask-tool")
	// A build of another version than the caller's is refused, and
	// leaves nothing there: the two would not speak one protocol (a
	// product trial's old build made a call wait for ever).
	version := d.Version
	d.Version = "v10"
	if _, err := d.Ensure(ctx, srv.Alias); !remote.IsKind(err, remote.KindRemote) || !strings.Contains(err.Error(), "not of this bgtask's version (v10)") || !strings.Contains(err.Error(), "it says bgtask "+version) {
		t.Errorf("a build of another version: %v", err)
	}
	if out := srv.Run(t, "ls -A ~/"+remote.BinDir); strings.Contains(out, "v10") || strings.Contains(out, ".deploy") {
		t.Errorf("a refused build left %q", out)
	}
	d.Version = version
	dep3, err := d.Ensure(ctx, srv.Alias)
	if err != nil || dep3.Dir != dep.Dir {
		t.Errorf("back to its version: %+v, %v", dep3, err)
	}
	if hosts := d.KnownHosts(); len(hosts) != 1 || hosts[0].Host != srv.Alias || hosts[0].Version != version {
		t.Errorf("known hosts: %+v", hosts)
	}
	// A rebuild of the same version (two dev builds of one commit with
	// local changes are both <commit>+dirty) goes to its own folder too.
	name := remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})
	b, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 0) // Another build: trailing bytes change nothing when it runs.
	if err := os.WriteFile(filepath.Join(dist, name), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(fmt.Sprintf("%x  %s\n", sha256.Sum256(b), name)), 0o644); err != nil {
		t.Fatal(err)
	}
	dep4, err := d.Ensure(ctx, srv.Alias)
	if err != nil || !dep4.Copied || dep4.Dir == dep3.Dir {
		t.Errorf("a rebuild of %s: %+v, %v; want a copy to a new folder (was %s)", d.Version, dep4, err, dep3.Dir)
	}
	if ans, failed, err := d.Tool(ctx, srv.Alias, "bg_status", []byte(`{}`)); err != nil || failed {
		t.Errorf("bg_status by the rebuild: %s, %v", ans, err)
	}
	// No dist folder: the local lean build, checked again only for a
	// dirty version (a clean one names its build).
	lean := filepath.Join(t.TempDir(), "bgtask-tool")
	b = append(b, 0) // Not the dist's build deployed above.
	if err := os.WriteFile(lean, b, 0o755); err != nil {
		t.Fatal(err)
	}
	d.Getenv, d.Lean, d.Version = func(string) string { return "" }, lean, strings.TrimSuffix(version, "+dirty")+"+dirty"
	if dep5, err := d.Ensure(ctx, srv.Alias); err != nil || !dep5.Copied {
		t.Fatalf("the local lean build: %+v, %v", dep5, err)
	}
	if err := os.WriteFile(lean, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	if dep6, err := d.Ensure(ctx, srv.Alias); err != nil || !dep6.Copied {
		t.Errorf("a rebuild of the dirty local lean build: %+v, %v; want a copy", dep6, err)
	}
}

func TestDeployFailuresAreClear(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds and deploys the lean binaries")
	}
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	dist := remotetest.BuildDist(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Damaged on the way (here: the dist file differs from its checksum):
	// refused after the copy, nothing left there.
	name := filepath.Join(dist, remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}))
	good, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, append(append([]byte{}, good...), 0), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = newDeployer(t, srv, dist).Deploy(ctx, srv.Alias)
	if err == nil || !strings.Contains(err.Error(), "checksum after the copy") {
		t.Errorf("damaged copy: %v", err)
	}
	if out := srv.Run(t, "ls -A ~/"+remote.BinDir); strings.TrimSpace(out) != "" {
		t.Errorf("a damaged copy left %q", out)
	}
	if err := os.WriteFile(name, good, 0o755); err != nil {
		t.Fatal(err)
	}

	// A full disk.
	srv.Mount(t, ".local", 256<<10)
	_, err = newDeployer(t, srv, dist).Deploy(ctx, srv.Alias)
	if !remote.IsKind(err, remote.KindRemote) || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("full disk: %v", err)
	}
	t.Logf("full disk: %v", err)
}

func TestDeployToAnUnwritableHome(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds and deploys the lean binaries")
	}
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	dist := remotetest.BuildDist(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv.Run(t, "chmod 500 ~")
	_, err := newDeployer(t, srv, dist).Deploy(ctx, srv.Alias)
	if !remote.IsKind(err, remote.KindRemote) || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("unwritable home: %v", err)
	}
	t.Logf("unwritable home: %v", err)
	// A deploy folder of someone else's is refused.
	srv.Run(t, "chmod 700 ~")
	if out, err := exec.Command("sh", "-c", "mkdir -p "+srv.Home+"/"+remote.BinDir+" && chown root "+srv.Home+"/"+remote.BinDir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	_, err = newDeployer(t, srv, dist).Deploy(ctx, srv.Alias)
	if err == nil || !strings.Contains(err.Error(), "not owned by the remote user") {
		t.Errorf("a deploy folder of root's: %v", err)
	}
}

// A deploy folder is trusted for its content, not its name: one missing
// its binary or a link, or whose binary differs from its checksum, is
// deployed again, by a bgtask that has no record of it (Deploy) and by
// one whose record names it (Tool).
func TestDeployRepairsDamagedFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds and deploys the lean binaries")
	}
	t.Parallel() // Each has its own account and sshd.
	srv := remotetest.Start(t)
	dist := remotetest.BuildDist(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := newDeployer(t, srv, dist)
	dep, err := d.Deploy(ctx, srv.Alias)
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, srv.Log())
	}
	good := srv.Run(t, "cd; sha256sum "+dep.Dir+"/bgtask-tool | cut -d' ' -f1")
	intact := func(what string) {
		t.Helper()
		if got := srv.Run(t, "cd; sha256sum "+dep.Dir+"/bgtask-tool | cut -d' ' -f1; readlink "+dep.Dir+"/bg-run"); got != good+"bgtask-tool\n" {
			t.Errorf("%s: the folder holds %q, want %q and the link", what, got, good)
		}
	}
	for _, damage := range []struct{ name, cmd string }{
		{"binary removed", "rm " + dep.Dir + "/bgtask-tool"},
		{"link removed", "rm " + dep.Dir + "/bg-run"},
		{"binary cut short", "truncate -s 4096 " + dep.Dir + "/bgtask-tool"},
		{"binary replaced", "printf '#!/bin/sh\\necho {}\\n' > " + dep.Dir + "/bgtask-tool"},
	} {
		srv.Run(t, "cd; "+damage.cmd)
		dep2, err := newDeployer(t, srv, dist).Deploy(ctx, srv.Alias)
		if err != nil || !dep2.Copied || dep2.Dir != dep.Dir {
			t.Errorf("%s: deploy %+v, %v; want a copy into %s", damage.name, dep2, err, dep.Dir)
		}
		intact(damage.name)
	}
	// Through a record: a tool removed there fails to start; the call
	// deploys again and answers.
	srv.Run(t, "cd; rm "+dep.Dir+"/bg-status")
	if ans, failed, err := d.Tool(ctx, srv.Alias, "bg_status", []byte(`{}`)); err != nil || failed {
		t.Errorf("after the tool was removed: %s, %v, %v", ans, failed, err)
	}
	// A binary cut short dies there by a signal: that call fails (it
	// is not run again, a bg_run may have started), the next one
	// deploys again and answers.
	srv.Run(t, "cd; truncate -s 4096 "+dep.Dir+"/bgtask-tool")
	_, _, err = d.Tool(ctx, srv.Alias, "bg_status", []byte(`{}`))
	t.Logf("a call to the binary cut short: %v", err)
	if ans, failed, err := d.Tool(ctx, srv.Alias, "bg_status", []byte(`{}`)); err != nil || failed {
		t.Errorf("the call after the binary was cut short: %s, %v, %v", ans, failed, err)
	}
	intact("cut short, through a record")
	if out := srv.Run(t, "ls -A ~/"+remote.BinDir); strings.TrimSpace(out) != filepath.Base(dep.Dir) {
		t.Errorf("left in the deploy folder: %q", out)
	}
}

func TestVersionCore(t *testing.T) {
	for v, want := range map[string]string{
		"v1.2.3 (commit 0123456789ab)":                   "v1.2.3",
		"v0.0.0-20261207104650-b3f9b0447a69+dirty":       "v0.0.0-20261207104650-b3f9b0447a69",
		"v0.0.0-20261207104650-b3f9b0447a69 (commit b3)": "v0.0.0-20261207104650-b3f9b0447a69",
		"devel-0123456789ab+dirty":                       "devel-0123456789ab",
		"devel":                                          "devel",
	} {
		if got := remote.VersionCore(v); got != want {
			t.Errorf("versionCore(%q) = %q, want %q", v, got, want)
		}
	}
}
