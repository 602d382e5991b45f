package installer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"

	"github.com/pelletier/go-toml/v2"
)

// The installer registers `bgtask mcp` in each agent's own configuration,
// keeps everything else in those files, says what it did, does nothing
// the second time, and --uninstall takes exactly its entries out again.
func TestInstallRegistersAgents(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	files := map[string]string{
		".config/amp/settings.json": `{"amp.notifications.enabled": false, "amp.mcpServers": {"other": {"command": "x", "args": ["1"]}}}`,
		".claude.json":              `{"numStartups": 5, "projects": {"/p": {"allowedTools": []}}}`,
		".codex/config.toml":        "# my codex settings\nmodel = \"o3\"\n\n[mcp_servers.other]\ncommand = \"y\"\n",
	}
	for p, content := range files {
		path := filepath.Join(home, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(home, ".cursor"), 0o700); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=")
	install := func(args ...string) string {
		var out, errOut strings.Builder
		a.Stdout, a.Stderr = &out, &errOut
		if code := runCLI(t.Context(), a, append([]string{"install", "--shell", "none"}, args...)); code != toolbox.ExitOK {
			t.Fatalf("install %v: exit %d: %s%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	out := install("--agents", "amp,claude,cursor,codex")
	bin := filepath.Join(home, ".local", "bin", "bgtask")
	for _, name := range []string{"Amp", "Claude Code", "Cursor", "Codex"} {
		if !strings.Contains(out, "registered") || !strings.Contains(out, name+": MCP server bg-tasks -> "+bin+" mcp") {
			t.Errorf("install did not say it registered %s:\n%s", name, out)
		}
	}
	readJSON := func(p string) map[string]any {
		var v map[string]any
		b, err := os.ReadFile(filepath.Join(home, p))
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return v
	}
	ours := map[string]any{"command": bin, "args": []any{"mcp"}}
	amp := readJSON(".config/amp/settings.json")
	if s := amp["amp.mcpServers"].(map[string]any); !reflect.DeepEqual(s["bg-tasks"], ours) || s["other"] == nil || amp["amp.notifications.enabled"] != false {
		t.Errorf("Amp settings: %v", amp)
	}
	claude := readJSON(".claude.json")
	if s := claude["mcpServers"].(map[string]any); !reflect.DeepEqual(s["bg-tasks"], ours) || claude["projects"] == nil {
		t.Errorf("Claude Code settings: %v", claude)
	}
	if s := readJSON(".cursor/mcp.json")["mcpServers"].(map[string]any); !reflect.DeepEqual(s["bg-tasks"], ours) {
		t.Errorf("Cursor mcp.json: %v", s)
	}
	codex, _ := os.ReadFile(filepath.Join(home, ".codex/config.toml"))
	var doc map[string]any
	if err := toml.Unmarshal(codex, &doc); err != nil || !strings.HasPrefix(string(codex), files[".codex/config.toml"]) {
		t.Errorf("Codex config.toml lost the user's text or does not parse (%v):\n%s", err, codex)
	}
	if s := doc["mcp_servers"].(map[string]any); s["bg-tasks"].(map[string]any)["command"] != bin || s["other"] == nil {
		t.Errorf("Codex servers: %v", s)
	}
	if fi, err := os.Stat(filepath.Join(home, ".cursor/mcp.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a new agent config must be private: %v %v", fi.Mode(), err)
	}

	if again := install("--agents", "amp,claude,cursor,codex"); strings.Count(again, "already registered") != 4 {
		t.Errorf("second install:\n%s", again)
	}

	var out2, errOut strings.Builder
	a.Stdout, a.Stderr = &out2, &errOut
	if code := runCLI(t.Context(), a, []string{"install", "--uninstall"}); code != toolbox.ExitOK {
		t.Fatalf("uninstall: %d %s", code, errOut.String())
	}
	for p, content := range files {
		got, _ := os.ReadFile(filepath.Join(home, p))
		if strings.HasSuffix(p, ".toml") {
			if string(got) != content {
				t.Errorf("%s after uninstall:\n%s\nwant:\n%s", p, got, content)
			}
			continue
		}
		var want, have any
		_ = json.Unmarshal([]byte(content), &want)
		if err := json.Unmarshal(got, &have); err != nil || !reflect.DeepEqual(want, have) {
			t.Errorf("%s after uninstall: %s", p, got)
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".cursor/mcp.json")); !os.IsNotExist(err) {
		t.Errorf("the mcp.json the install created is still there: %v", err)
	}
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	settings := filepath.Join(home, ".config", "amp", "settings.json")
	if err := os.MkdirAll(filepath.Dir(settings), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(settings, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(home, ".local", "bin")
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH="+bin+":/usr/bin:/bin", "AMP_TOOLBOX=")
	run := func(args ...string) (string, toolbox.ExitCode) {
		var out, errOut strings.Builder
		a.Stdout, a.Stderr = &out, &errOut
		code := runCLI(t.Context(), a, args)
		return out.String() + errOut.String(), code
	}
	if out, code := run("install", "--shell", "bash", "--agents", "amp"); code != toolbox.ExitOK {
		t.Fatalf("install: %s", out)
	}
	out, code := run("doctor")
	for _, want := range []string{"ok    bgtask on PATH: " + filepath.Join(bin, "bgtask"), "ok    Amp toolbox entries", "ok    Amp: MCP server bg-tasks -> " + filepath.Join(bin, "bgtask") + " mcp", "ok    bg-reaper runs at shell start", "ok    bash completion: ",
		// Installed from the test binary, with no bgtask-tool beside it.
		"--    the toolbox entries run " + filepath.Join(bin, "bgtask") + ", not the lean bgtask-tool"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if code != toolbox.ExitOK {
		t.Fatalf("doctor after an install: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(settings, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run("doctor"); code == toolbox.ExitOK || !strings.Contains(out, "FAIL  Amp: bgtask mcp is not registered") || !strings.Contains(out, "fix: bgtask install --agents amp") {
		t.Fatalf("doctor with the registration gone: exit %d\n%s", code, out)
	}
}

// Doctor reports a Codex registration that would cut our long waits, and
// an install fixes it.
func TestDoctorCodexTimeout(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bin := filepath.Join(home, ".local", "bin")
	codex := filepath.Join(home, ".codex", "config.toml")
	if err := os.MkdirAll(filepath.Dir(codex), 0o700); err != nil {
		t.Fatal(err)
	}
	old := "[mcp_servers.bg-tasks]\ncommand = \"" + filepath.Join(bin, "bgtask") + "\"\nargs = [\"mcp\"]\n"
	if err := os.WriteFile(codex, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH="+bin+":/usr/bin:/bin", "AMP_TOOLBOX=")
	run := func(args ...string) string {
		var out strings.Builder
		a.Stdout, a.Stderr = &out, &out
		runCLI(t.Context(), a, args)
		return out.String()
	}
	if out := run("doctor"); !strings.Contains(out, "FAIL  Codex cuts tool calls after 60 s (tool_timeout_sec)") {
		t.Errorf("doctor with Codex's default timeout:\n%s", out)
	}
	// A value that is no number is not taken for a timeout.
	if err := os.WriteFile(codex, []byte(old+"tool_timeout_sec = \"660\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("doctor"); strings.Contains(out, "Codex cuts") || !strings.Contains(out, `FAIL  Codex: tool_timeout_sec of bg-tasks in `+codex+` is not a number of seconds: "660"`) {
		t.Errorf("doctor with a timeout that is a string:\n%s", out)
	}
	if out := run("install", "--shell", "none", "--agents", "codex"); !strings.Contains(out, "updated    "+codex) {
		t.Errorf("install did not update the Codex entry:\n%s", out)
	}
	if out := run("doctor"); strings.Contains(out, "Codex cuts") || !strings.Contains(out, "ok    Codex: MCP server bg-tasks") {
		t.Errorf("doctor after the install:\n%s", out)
	}
}

// An install for zsh alone (no bash profile, no bash completion) passes
// the doctor: the bash completion check is for bash profiles only.
func TestDoctorWithoutBash(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bin := filepath.Join(home, ".local", "bin")
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "ZDOTDIR=", "PATH="+bin+":/usr/bin:/bin", "AMP_TOOLBOX=")
	run := func(args ...string) (string, toolbox.ExitCode) {
		var out strings.Builder
		a.Stdout, a.Stderr = &out, &out
		code := runCLI(t.Context(), a, args)
		return out.String(), code
	}
	if out, code := run("install", "--shell", "zsh", "--agents", "none"); code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	out, code := run("doctor")
	if code != toolbox.ExitOK || !strings.Contains(out, "ok    bg-reaper runs at shell start ("+filepath.Join(home, ".zshrc")+")") || strings.Contains(out, "bash completion") {
		t.Errorf("doctor after a zsh-only install: exit %d\n%s", code, out)
	}
}

// What a skipped Codex is told to add by hand is TOML that gives our
// entry back, whatever the binary's path holds.
func TestManualCodexEntry(t *testing.T) {
	t.Parallel()
	var codex agentConfig
	for _, c := range agentConfigs(installPaths{home: "/h", configDir: "/h/.config"}) {
		if c.TOML {
			codex = c
		}
	}
	for _, bin := range []string{"/h/.local/bin/bgtask", `/h/it's "mine"\bin/bgtask`, "/h/odd\x01\adir/bgtask"} {
		manual := codex.manual(bin)
		_, text, ok := strings.Cut(manual, ":\n")
		if !ok {
			t.Fatalf("manual for %q: %s", bin, manual)
		}
		var doc map[string]any
		if err := toml.Unmarshal([]byte(strings.ReplaceAll(text, "\n  ", "\n")), &doc); err != nil {
			t.Errorf("manual for %q is not TOML (%v):\n%s", bin, err, text)
			continue
		}
		entry, _ := tomlLookup(doc, "mcp_servers."+mcpServerName).(map[string]any)
		if entry["command"] != bin || !reflect.DeepEqual(entry["args"], []any{"mcp"}) || entry["tool_timeout_sec"] != int64(codexToolTimeout) {
			t.Errorf("manual for %q gives %v", bin, entry)
		}
	}
}

// A registration recorded before records named the TOML container
// ("format": "toml") is still taken out by --uninstall.
func TestUninstallOldCodexRecord(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	codex := filepath.Join(home, ".codex", "config.toml")
	if err := os.MkdirAll(filepath.Dir(codex), 0o700); err != nil {
		t.Fatal(err)
	}
	mine := "model = \"o3\"\n"
	if err := os.WriteFile(codex, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH=/nonexistent")
	if out, code := runInstall(t, a, "--shell", "none", "--agents", "codex"); code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	record := filepath.Join(home, ".config", "amp-bg-tasks", "install.json")
	b := tasktest.ReadFile(t, record)
	old := strings.Replace(b, `"format": "toml:mcp_servers"`, `"format": "toml"`, 1)
	if old == b {
		t.Fatalf("the record names no TOML container:\n%s", b)
	}
	if err := os.WriteFile(record, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runInstall(t, a, "--uninstall"); code != toolbox.ExitOK {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if got := tasktest.ReadFile(t, codex); got != mine {
		t.Errorf("config.toml after the uninstall:\n%s\nwant\n%s", got, mine)
	}
}
