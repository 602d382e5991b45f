package installer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// allAgents is --agents with every agent we know.
func allAgents() string { return strings.ReplaceAll(agentKeys(installPaths{}), ", ", ",") }

// bigClaudeJSON is a ~900 KB ~/.claude.json as Claude Code writes it
// after months of use: unsorted keys, HTML characters written as they
// are, many projects, no final newline.
func bigClaudeJSON() []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"numStartups\": 412,\n  \"installMethod\": \"npm\",\n  \"autoUpdates\": true,\n  \"tipsHistory\": {\n    \"new-user-warmup\": 1\n  },\n  \"projects\": {")
	for i := 1500; i > 0; i-- {
		if i != 1500 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    \"/home/u/src/proj-%04d\": {\n      \"allowedTools\": [],\n      \"history\": [", i)
		for j := range 3 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "\n        {\n          \"display\": \"fix <div> & <span> in render() -> a && b > c %d\",\n          \"pastedContents\": {}\n        }", j)
		}
		b.WriteString("\n      ],\n      \"zeta\": 1,\n      \"alpha\": \"x<y>&z \\u00e9\",\n      \"lastCost\": 0.12,\n      \"hasTrustDialogAccepted\": true\n    }")
	}
	b.WriteString("\n  },\n  \"cachedChangelog\": \"## 1.0 <b>bold</b> & more\",\n  \"oauthAccount\": {\n    \"z\": 1,\n    \"a\": 2\n  }\n}")
	return b.Bytes()
}

// copyTree copies the files under src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isSubsequence reports whether a is b with some bytes taken out: an
// edit that only inserted.
func isSubsequence(a, b []byte) bool {
	i := 0
	for j := 0; i < len(a) && j < len(b); j++ {
		if a[i] == b[j] {
			i++
		}
	}
	return i == len(a)
}

// runInstall runs `bgtask install ARGS` in a and returns its output and
// exit code.
func runInstall(t *testing.T, a *toolbox.App, args ...string) (string, toolbox.ExitCode) {
	t.Helper()
	var out, errOut strings.Builder
	a.Stdout, a.Stderr = &out, &errOut
	code := runCLI(t.Context(), a, append([]string{"install"}, args...))
	return out.String() + errOut.String(), code
}

// realisticHome is a HOME with every agent's settings as their users
// have them, and a .bashrc that is a link into a dotfiles folder.
func realisticHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	copyTree(t, filepath.Join("testdata", "home"), home)
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), bigClaudeJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("dotfiles", "bashrc"), filepath.Join(home, ".bashrc")); err != nil {
		t.Fatal(err)
	}
	return home
}

// The installer edits only its own entry in files that are not ours, and
// an uninstall gives back every byte: a large .claude.json with HTML
// characters and unsorted keys, Amp's JSONC with comments and trailing
// commas, 4-space and tab-indented JSON, TOML with comments, `{}`, a
// file without a final newline, a symlinked dotfile.
func TestInstallKeepsUsersFiles(t *testing.T) {
	t.Parallel()
	home := realisticHome(t)
	before := snapshot(t, home)
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH=/usr/bin:/bin")
	out, code := runInstall(t, a, "--shell", "bash", "--agents", allAgents())
	if code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	bin := filepath.Join(home, ".local", "bin", "bgtask")
	installed := snapshot(t, home)
	for _, c := range agentConfigs(installPaths{home: home, configDir: filepath.Join(home, ".config")}) {
		rel, _ := filepath.Rel(home, c.Path)
		was, now := strings.SplitN(before[rel], " ", 3), strings.SplitN(installed[rel], " ", 3)
		if len(was) < 3 || len(now) < 3 {
			t.Errorf("%s: missing before or after the install", rel)
			continue
		}
		if was[0] != now[0] || was[1] != now[1] || !isSubsequence([]byte(was[2]), []byte(now[2])) {
			t.Errorf("%s: the install changed more than it added (mode and owner %s %s -> %s %s):\n%s", rel, was[0], was[1], now[0], now[1], now[2])
		}
		if entry, err := registeredEntry(c); err != nil || entryCommand(entry) != bin {
			t.Errorf("%s: registered %v, %v", c.Name, entry, err)
		}
	}
	if !strings.Contains(installed[".claude.json"], "fix <div> & <span>") || strings.Contains(installed[".claude.json"], `\u003c`) {
		t.Errorf(".claude.json lost its HTML characters")
	}
	if fi, err := os.Lstat(filepath.Join(home, ".bashrc")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf(".bashrc is no longer the dotfiles link: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "dotfiles", "bashrc")); !bytes.Contains(b, []byte(shellBegin)) {
		t.Errorf("the block did not go into the link's target:\n%s", b)
	}
	if out, code := runInstall(t, a, "--shell", "bash", "--agents", allAgents()); code != toolbox.ExitOK || strings.Contains(out, "registered ") || strings.Contains(out, "updated ") {
		t.Errorf("second install changed something (exit %d):\n%s", code, out)
	}
	uninstallRestores(t, a, home, before)
}

// uninstallRestores runs `bgtask install --uninstall` and checks that
// home is as before, byte for byte, with the same modes and owners.
func uninstallRestores(t *testing.T, a *toolbox.App, home string, before map[string]string) {
	t.Helper()
	if out, code := runInstall(t, a, "--uninstall"); code != toolbox.ExitOK {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if after := snapshot(t, home); !maps.Equal(before, after) {
		t.Errorf("uninstall did not give back every byte, mode and owner:\n%s", diffSnapshots(before, after))
	}
}

// `{}` and an empty container come back as they were, not as a 0-byte
// file; a file the install created goes, and so does a container member
// it added.
func TestUninstallRestoresSmallFiles(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"{}", "{}\n", `{"amp.mcpServers": {}}` + "\n", "{\n  \"amp.mcpServers\": {}\n}\n", " \n", ""} {
		t.Run(fmt.Sprintf("%q", content), func(t *testing.T) {
			home := t.TempDir()
			settings := filepath.Join(home, ".config", "amp", "settings.json")
			if err := os.MkdirAll(filepath.Dir(settings), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(settings, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, home)
			a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH=/usr/bin:/bin")
			if out, code := runInstall(t, a, "--shell", "none", "--agents", "amp,cursor"); code != toolbox.ExitOK {
				t.Fatalf("install: exit %d\n%s", code, out)
			}
			if entry, err := registeredEntry(agentConfigs(installPaths{home: home, configDir: filepath.Join(home, ".config")})[0]); err != nil || entryCommand(entry) == "" {
				t.Fatalf("not registered: %v", err)
			}
			uninstallRestores(t, a, home, before)
		})
	}
}

// A user who changed the file between install and uninstall keeps the
// change: only our entry goes.
func TestUninstallKeepsLaterChanges(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := filepath.Join(home, ".claude.json")
	if err := os.WriteFile(path, []byte("{\n  \"numStartups\": 1\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH=/usr/bin:/bin")
	if out, code := runInstall(t, a, "--shell", "none", "--agents", "claude"); code != toolbox.ExitOK {
		t.Fatalf("install: %s", out)
	}
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte(`"numStartups": 1`), []byte(`"numStartups": 2, "theme": "dark <3"`), 1)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runInstall(t, a, "--uninstall"); code != toolbox.ExitOK {
		t.Fatalf("uninstall: %s", out)
	}
	if got, _ := os.ReadFile(path); string(got) != "{\n  \"numStartups\": 2, \"theme\": \"dark <3\"\n}\n" {
		t.Errorf("after uninstall:\n%s", got)
	}
}

// One file that cannot be edited (truncated, read-only, hard-linked)
// does not stop the others: that agent is skipped with one line saying
// why and how to register by hand, the rest are registered, and the exit
// status says which were skipped. The skipped files are not touched.
func TestInstallSkipsBadFiles(t *testing.T) {
	t.Parallel()
	home := realisticHome(t)
	claude := filepath.Join(home, ".claude.json")
	full, _ := os.ReadFile(claude)
	if err := os.WriteFile(claude, full[:len(full)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	gemini := filepath.Join(home, ".gemini", "settings.json")
	if err := os.Chmod(gemini, 0o444); err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(home, ".cursor", "mcp.json")
	if err := os.Link(cursor, filepath.Join(home, "cursor-mcp-copy.json")); err != nil {
		t.Fatal(err)
	}
	bashrc := filepath.Join(home, "dotfiles", "bashrc") // ~/.bashrc links to it.
	if err := os.Chmod(bashrc, 0o444); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, home)
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH=/usr/bin:/bin")
	out, code := runInstall(t, a, "--shell", "bash", "--agents", allAgents())
	if code == toolbox.ExitOK {
		t.Fatalf("install with bad files: exit 0\n%s", out)
	}
	for _, want := range []string{
		"SKIPPED    Claude Code: " + claude + ": not valid JSON",
		"SKIPPED    Gemini CLI: " + gemini + " is read-only (mode 0444): left as it is; to register by hand, add to " + gemini,
		"SKIPPED    Cursor: " + cursor + " has 2 hard links: left as it is",
		"SKIPPED    " + bashrc + " is read-only (mode 0444): left as it is; add these lines to it by hand:\n" + shellBegin,
		"skipped (see SKIPPED above): " + filepath.Join(home, ".bashrc") + ", Claude Code, Cursor, Gemini CLI",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	after := snapshot(t, home)
	for _, rel := range []string{".claude.json", ".gemini/settings.json", ".cursor/mcp.json", "dotfiles/bashrc"} {
		if before[rel] != after[rel] {
			t.Errorf("%s was changed", rel)
		}
	}
	for _, c := range agentConfigs(installPaths{home: home, configDir: filepath.Join(home, ".config")}) {
		if c.Key == "claude" || c.Key == "gemini" || c.Key == "cursor" {
			continue
		}
		if entry, err := registeredEntry(c); err != nil || entryCommand(entry) == "" {
			t.Errorf("%s not registered after another agent's bad file: %v", c.Name, err)
		}
	}
	uninstallRestores(t, a, home, before)
}

// registerClaude registers /bin/bgtask with Claude Code in home, with
// agentWrite playing the agent between each edit and its replace.
func registerClaude(t *testing.T, home string, agentWrite func()) *installer {
	t.Helper()
	in := &installer{out: &bytes.Buffer{}, paths: installPaths{home: home, configDir: filepath.Join(home, ".config")}}
	in.beforeReplace = func(string) { agentWrite() }
	c := agentConfigs(in.paths)[1]
	if c.Key != "claude" {
		t.Fatalf("agent 1 is %s", c.Key)
	}
	if err := in.register(c, "/bin/bgtask"); err != nil {
		t.Fatal(err)
	}
	return in
}

// The agent writes its file between our read and our replace: the
// install notices, redoes its edit on the agent's content, and neither
// write is lost.
func TestRegisterKeepsConcurrentWrite(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := filepath.Join(home, ".claude.json")
	if err := os.WriteFile(path, []byte(`{"numStartups": 412}`), 0o600); err != nil {
		t.Fatal(err)
	}
	writes := 0
	registerClaude(t, home, func() {
		if writes < 2 { // Twice: the second redo must notice as well.
			writes++
			// As Claude Code does: a whole new file, renamed in place.
			tmp := path + ".agent"
			if err := os.WriteFile(tmp, []byte(fmt.Sprintf(`{"numStartups": %d}`, 412+writes)), 0o600); err != nil {
				t.Error(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Error(err)
			}
		}
	})
	b, _ := os.ReadFile(path)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["numStartups"] != 414.0 || doc["mcpServers"] == nil {
		t.Errorf("a write was lost: %s", b)
	}
}

// Run as root on a user's home (sudo, a container, a provisioning
// script), the install keeps every existing file's owner and mode, and
// what it creates belongs to the home's owner.
func TestInstallAsRootKeepsOwners(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: installs into a home owned by another uid")
	}
	const uid, gid = 4242, 4343 // No account needed: ownership is numbers.
	home := realisticHome(t)
	modes := map[string]fs.FileMode{".claude.json": 0o600, ".codex/config.toml": 0o640, "dotfiles/bashrc": 0o644}
	for rel, mode := range modes {
		if err := os.Chmod(filepath.Join(home, rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, home)
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH=/usr/bin:/bin")
	if out, code := runInstall(t, a, "--shell", "bash", "--agents", allAgents()); code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	err = filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s is owned by %d:%d after a root install, want %d:%d", path, st.Uid, st.Gid, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel, mode := range modes {
		if fi, err := os.Stat(filepath.Join(home, rel)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", rel, fi.Mode().Perm(), mode, err)
		}
	}
	uninstallRestores(t, a, home, before)
}

// The agent creates its file between our read (no file) and our replace:
// the redone edit goes into the agent's file, which is then not the
// install's to remove, and the uninstall leaves it.
func TestRegisterAgentCreatesFileMeanwhile(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := filepath.Join(home, ".claude.json")
	in := registerClaude(t, home, func() {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
				t.Error(err)
			}
		}
	})
	if len(in.m.Agents) != 1 || in.m.Agents[0].Created || slices.Contains(in.m.Created, path) {
		t.Errorf("the record says the install created the agent's file: %+v", in.m)
	}
	if err := in.unregister(in.m.Agents[0]); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "{}" {
		t.Errorf("after the uninstall the agent's file holds %q (%v), want {}", b, err)
	}
}

// Two installs at once into one home, then an uninstall: the record
// stays true (the second install does not record the first one's edits
// as the user's), so the uninstall gives back every byte.
func TestConcurrentInstallsThenUninstall(t *testing.T) {
	t.Parallel()
	home := realisticHome(t)
	before := snapshot(t, home)
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=", "PATH=/usr/bin:/bin"}
	type result struct {
		out  string
		code toolbox.ExitCode
	}
	done := make(chan result, 2)
	for range 2 {
		a := newApp(t, env...)
		go func() {
			var out, errOut strings.Builder
			a.Stdout, a.Stderr = &out, &errOut
			code := runCLI(t.Context(), a, []string{"install", "--shell", "bash", "--agents", allAgents()})
			done <- result{out.String() + errOut.String(), code}
		}()
	}
	for range 2 {
		if r := <-done; r.code != toolbox.ExitOK {
			t.Fatalf("install: exit %d\n%s", r.code, r.out)
		}
	}
	uninstallRestores(t, newApp(t, env...), home, before)
}
