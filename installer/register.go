package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Registering `bgtask mcp` with the coding agents installed on the machine,
// in each one's user-level configuration, so that today's clients (which
// take custom tools through MCP only) find the tools with no manual step.

// mcpServerName is the name under which we register.
const mcpServerName = "bg-tasks"

// codexToolTimeout is Codex's per-server tool_timeout_sec: our longest
// wait (wait_seconds up to 600) and a margin, so Codex never cuts a call
// that our server would answer.
const codexToolTimeout = 660

// agentConfig is one agent's user-level MCP configuration.
type agentConfig struct {
	Key  string // for --agents
	Name string // for people
	Path string
	TOML bool // Codex's config.toml; else JSON, comments allowed
	// Container is the member (JSON) or table (TOML) holding the
	// servers by name.
	Container string
	// Entry is our server's entry, given the bgtask binary.
	Entry  func(bin string) []field
	Detect []string
	Bin    string // a command that reveals the agent on PATH
}

// stdioEntry is the entry most agents take: a command and its arguments.
func stdioEntry(bin string) []field {
	return []field{{"command", bin}, {"args", []string{"mcp"}}}
}

// agentConfigs lists the agents we know, given the install's paths. Each
// path is the agent's documented user-level MCP configuration.
func agentConfigs(p installPaths) []agentConfig {
	vscode := filepath.Join(p.configDir, "Code", "User")
	if runtime.GOOS == "darwin" {
		vscode = filepath.Join(p.home, "Library", "Application Support", "Code", "User")
	}
	opencode := filepath.Join(p.configDir, "opencode", "opencode.json")
	if _, err := os.Stat(opencode); err != nil {
		if c := strings.TrimSuffix(opencode, ".json") + ".jsonc"; fileExists(c) {
			opencode = c
		}
	}
	return []agentConfig{
		{Key: "amp", Name: "Amp", Path: filepath.Join(p.configDir, "amp", "settings.json"), Container: "amp.mcpServers", Entry: stdioEntry,
			// Not the amp folder itself: the toolbox install creates it.
			Detect: []string{filepath.Join(p.configDir, "amp", "settings.json")}, Bin: "amp"},
		{Key: "claude", Name: "Claude Code", Path: filepath.Join(p.home, ".claude.json"), Container: "mcpServers", Entry: stdioEntry,
			Detect: []string{filepath.Join(p.home, ".claude.json"), filepath.Join(p.home, ".claude")}, Bin: "claude"},
		{Key: "cursor", Name: "Cursor", Path: filepath.Join(p.home, ".cursor", "mcp.json"), Container: "mcpServers", Entry: stdioEntry,
			Detect: []string{filepath.Join(p.home, ".cursor")}, Bin: "cursor"},
		{Key: "codex", Name: "Codex", Path: filepath.Join(p.home, ".codex", "config.toml"), TOML: true, Container: "mcp_servers",
			Entry: func(bin string) []field {
				return append(stdioEntry(bin), field{"tool_timeout_sec", codexToolTimeout})
			},
			Detect: []string{filepath.Join(p.home, ".codex")}, Bin: "codex"},
		{Key: "gemini", Name: "Gemini CLI", Path: filepath.Join(p.home, ".gemini", "settings.json"), Container: "mcpServers", Entry: stdioEntry,
			Detect: []string{filepath.Join(p.home, ".gemini")}, Bin: "gemini"},
		{Key: "windsurf", Name: "Windsurf", Path: filepath.Join(p.home, ".codeium", "windsurf", "mcp_config.json"), Container: "mcpServers", Entry: stdioEntry,
			Detect: []string{filepath.Join(p.home, ".codeium", "windsurf")}, Bin: "windsurf"},
		{Key: "vscode", Name: "VS Code", Path: filepath.Join(vscode, "mcp.json"), Container: "servers",
			Entry: func(bin string) []field {
				return append([]field{{"type", "stdio"}}, stdioEntry(bin)...)
			},
			Detect: []string{vscode}, Bin: "code"},
		{Key: "zed", Name: "Zed", Path: filepath.Join(p.configDir, "zed", "settings.json"), Container: "context_servers", Entry: stdioEntry,
			Detect: []string{filepath.Join(p.configDir, "zed")}, Bin: "zed"},
		{Key: "opencode", Name: "opencode", Path: opencode, Container: "mcp",
			Entry: func(bin string) []field {
				return []field{{"type", "local"}, {"command", []string{bin, "mcp"}}, {"enabled", true}}
			},
			Detect: []string{filepath.Dir(opencode)}, Bin: "opencode"},
	}
}

// agentKeys lists the --agents names.
func agentKeys(p installPaths) string {
	var keys []string
	for _, c := range agentConfigs(p) {
		keys = append(keys, c.Key)
	}
	return strings.Join(keys, ", ")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// found reports whether the agent seems installed.
func (c agentConfig) found(path string) bool {
	if slices.ContainsFunc(c.Detect, fileExists) {
		return true
	}
	return lookPath(c.Bin, path) != ""
}

// entryCommand is the program an entry runs: "command" as a string, or
// the first element of "command" as a list (opencode).
func entryCommand(entry map[string]any) string {
	switch v := entry["command"].(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

// manual says how to register by hand in c's file.
func (c agentConfig) manual(bin string) string {
	if c.TOML {
		// Written as the install would have written it.
		table := c.Container + "." + mcpServerName
		text, _, _, err := setTOMLTable("", table, c.Entry(bin))
		if err != nil {
			return fmt.Sprintf("add a [%s] table to %s (%v)", table, c.Path, err)
		}
		return fmt.Sprintf("add to %s:\n  %s", c.Path, strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n  "))
	}
	return fmt.Sprintf("add to %s, under %q: %q: %s", c.Path, c.Container, mcpServerName, objectText(c.Entry(bin), layout{unit: "  "}))
}

// chooseAgents resolves --agents: "" for the ones found, "none", or a list.
func chooseAgents(list string, p installPaths, path string) ([]agentConfig, error) {
	all := agentConfigs(p)
	switch list {
	case "none":
		return nil, nil
	case "":
		var out []agentConfig
		for _, c := range all {
			if c.found(path) {
				out = append(out, c)
			}
		}
		return out, nil
	}
	var out []agentConfig
	for _, k := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(c agentConfig) bool { return c.Key == strings.TrimSpace(k) })
		if i < 0 {
			return nil, fmt.Errorf("--agents: unknown agent %q (want %s, or none)", k, agentKeys(p))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// installedAgent records a registration for --uninstall.
type installedAgent struct {
	Path    string `json:"path"`
	Format  string `json:"format"` // "toml:<container>" or "json:<container>"
	Name    string `json:"name"`
	Command string `json:"command"`
	Created bool   `json:"created,omitempty"` // the config file did not exist
	// Blank is what a file that held only whitespace held.
	Blank *string `json:"blank,omitempty"`
	jsonUndo
	tomlUndo
}

func (c agentConfig) format() string {
	if c.TOML {
		return "toml:" + c.Container
	}
	return "json:" + c.Container
}

// table tells how a registration's file is written and which member or
// table holds the servers.
func (a installedAgent) table() (isTOML bool, container string) {
	kind, container, _ := strings.Cut(a.Format, ":")
	if kind == "toml" && container == "" {
		// Recorded before the container was: the only TOML agent's.
		all := agentConfigs(installPaths{})
		container = all[slices.IndexFunc(all, func(c agentConfig) bool { return c.TOML })].Container
	}
	return kind == "toml", container
}

// Amp took custom tools from its toolbox (executables in
// ~/.config/amp/tools or AMP_TOOLBOX) until early 2026; later versions
// take them through MCP only. Registered both ways, an Amp that reads
// both lists every tool twice, with two reader identities. The installer
// asks the Amp on PATH which it is: `amp tools --help` lists `make` and
// `use` (toolbox commands) only in versions with the toolbox.
var ampToolboxCommand = regexp.MustCompile(`(?m)^\s+(make|use)\s`)

// ampTakesToolbox reports whether the amp program on PATH reads the
// toolbox; known is false when there is no amp to ask, or it did not
// answer.
func ampTakesToolbox(ctx context.Context, path string, env []string) (toolbox, known bool) {
	amp := lookPath("amp", path)
	if amp == "" {
		return false, false
	}
	// Amp is a Node program: it starts slowly on a loaded machine.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, amp, "tools", "--help")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("Commands:")) {
		return false, false
	}
	return ampToolboxCommand.Match(out), true
}

// register adds (or updates) our server in c's configuration.
func (in *installer) register(c agentConfig, bin string) error {
	var undo installedAgent
	var state string
	var created bool // by this edit: the file was not there when it was (re)done
	if err := in.mkdirAll(filepath.Dir(c.Path)); err != nil {
		return err
	}
	f := in.userFile(c.Path, 0o600) // These files may hold API keys: private by default.
	_, err := f.edit(func(cur []byte, exists bool) (next []byte, err error) {
		created = !exists
		undo.Blank = nil
		if exists && len(bytes.TrimSpace(cur)) == 0 {
			blank := string(cur)
			undo.Blank = &blank
		}
		if c.TOML {
			var s string
			s, undo.tomlUndo, state, err = setTOMLTable(string(cur), c.Container+"."+mcpServerName, c.Entry(bin))
			next = []byte(s)
		} else {
			next, undo.jsonUndo, state, err = setJSONMember(cur, c.Container, mcpServerName, c.Entry(bin))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	i := slices.IndexFunc(in.m.Agents, func(a installedAgent) bool { return a.Path == c.Path })
	switch {
	case i < 0:
		undo.Path, undo.Format, undo.Name, undo.Command, undo.Created = c.Path, c.format(), mcpServerName, bin, created
		in.m.Agents = append(in.m.Agents, undo)
	case state == "registered":
		// Our entry was gone (removed by hand): this insertion is
		// what an uninstall takes back now.
		undo.Path, undo.Format, undo.Name, undo.Command = c.Path, c.format(), mcpServerName, bin
		undo.Created = in.m.Agents[i].Created || created
		in.m.Agents[i] = undo
	default:
		in.m.Agents[i].Command = bin
	}
	if state == "already" {
		in.printf("kept       %s (%s: %s already registered)", c.Path, c.Name, mcpServerName)
		return nil
	}
	in.printf("%-10s %s (%s: MCP server %s -> %s mcp)", state, c.Path, c.Name, mcpServerName, bin)
	return nil
}

// unregister removes our server from a configuration, if it still names
// our binary, putting back what the install changed around it; a file the
// install created goes once it holds nothing else.
func (in *installer) unregister(a installedAgent) error {
	if !fileExists(a.Path) {
		return nil
	}
	owned := func(entry map[string]any) bool { return entryCommand(entry) == a.Command }
	var found, remove bool
	isTOML, container := a.table()
	f := in.userFile(a.Path, 0o600)
	_, err := f.edit(func(cur []byte, _ bool) ([]byte, error) {
		var next []byte
		var err error
		if isTOML {
			var s string
			s, found, err = removeTOMLTable(string(cur), container+"."+a.Name, a.tomlUndo, owned)
			next = []byte(s)
		} else {
			next, found, err = removeJSONMember(cur, container, a.Name, a.jsonUndo, owned)
		}
		if err != nil {
			return nil, fmt.Errorf("unregister from %s: %w", a.Path, err)
		}
		if found && isEmptyConfig(next, isTOML) {
			if a.Blank != nil {
				return []byte(*a.Blank), nil
			}
			remove = a.Created
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	switch {
	case !found:
		in.printf("kept       %s (%s is not ours any more)", a.Path, a.Name)
	case remove:
		if err := os.Remove(a.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("unregister: %w", err)
		}
		in.printf("removed    %s", a.Path)
	default:
		in.printf("updated    %s (removed MCP server %s)", a.Path, a.Name)
	}
	return nil
}

// isEmptyConfig reports whether a settings file holds nothing.
func isEmptyConfig(b []byte, isTOML bool) bool {
	if isTOML {
		return len(bytes.TrimSpace(b)) == 0
	}
	doc, err := decodeJSONC(b)
	return err == nil && len(doc) == 0
}
