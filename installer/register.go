package installer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Registering `bgtask mcp` with the coding agents installed on the machine,
// in each one's user-level configuration, so that today's clients (which
// take custom tools through MCP only) find the tools with no manual step.

// mcpServerName is the name under which we register.
const mcpServerName = "bg-tasks"

// agentConfig is one agent's user-level MCP configuration.
type agentConfig struct {
	Key    string // for --agents: amp, claude, cursor, codex
	Name   string // for people
	Path   string
	Format string // "json:<member>" (the member holding the servers) or "toml"
	Detect []string
	Bin    string // a command that reveals the agent on PATH
}

// agentConfigs lists the agents we know, given the install's paths.
func agentConfigs(p installPaths) []agentConfig {
	return []agentConfig{
		{Key: "amp", Name: "Amp", Path: filepath.Join(p.configDir, "amp", "settings.json"), Format: "json:amp.mcpServers",
			// Not the amp folder itself: the toolbox install creates it.
			Detect: []string{filepath.Join(p.configDir, "amp", "settings.json")}, Bin: "amp"},
		{Key: "claude", Name: "Claude Code", Path: filepath.Join(p.home, ".claude.json"), Format: "json:mcpServers",
			Detect: []string{filepath.Join(p.home, ".claude.json"), filepath.Join(p.home, ".claude")}, Bin: "claude"},
		{Key: "cursor", Name: "Cursor", Path: filepath.Join(p.home, ".cursor", "mcp.json"), Format: "json:mcpServers",
			Detect: []string{filepath.Join(p.home, ".cursor")}, Bin: "cursor"},
		{Key: "codex", Name: "Codex", Path: filepath.Join(p.home, ".codex", "config.toml"), Format: "toml",
			Detect: []string{filepath.Join(p.home, ".codex")}, Bin: "codex"},
	}
}

// found reports whether the agent seems installed.
func (c agentConfig) found() bool {
	for _, d := range c.Detect {
		if _, err := os.Stat(d); err == nil {
			return true
		}
	}
	_, err := exec.LookPath(c.Bin)
	return err == nil
}

// chooseAgents resolves --agents: "" for the ones found, "none", or a list.
func chooseAgents(list string, p installPaths) ([]agentConfig, error) {
	all := agentConfigs(p)
	switch list {
	case "none":
		return nil, nil
	case "":
		var out []agentConfig
		for _, c := range all {
			if c.found() {
				out = append(out, c)
			}
		}
		return out, nil
	}
	var out []agentConfig
	for _, k := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(c agentConfig) bool { return c.Key == strings.TrimSpace(k) })
		if i < 0 {
			return nil, fmt.Errorf("--agents: unknown agent %q (want amp, claude, cursor, codex, or none)", k)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// installedAgent records a registration for --uninstall.
type installedAgent struct {
	Path    string `json:"path"`
	Format  string `json:"format"`
	Name    string `json:"name"`
	Command string `json:"command"`
	Created bool   `json:"created,omitempty"` // the config file did not exist
}

// register adds (or updates) our server in c's configuration.
func (in *installer) register(c agentConfig, bin string) error {
	cur, mode, err := readUserFile(c.Path)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(c.Path)
	existed := statErr == nil
	if !existed {
		mode = 0o600 // These files may hold API keys: private by default.
	}
	var next string
	var state string
	if c.Format == "toml" {
		next, state, err = registerTOML(cur, bin)
	} else {
		next, state, err = registerJSON(cur, strings.TrimPrefix(c.Format, "json:"), bin)
	}
	if err != nil {
		return fmt.Errorf("register with %s (%s): %w; add it by hand: %s mcp", c.Name, c.Path, err, bin)
	}
	i := slices.IndexFunc(in.m.Agents, func(a installedAgent) bool { return a.Path == c.Path })
	if i < 0 {
		in.m.Agents = append(in.m.Agents, installedAgent{Path: c.Path, Format: c.Format, Name: mcpServerName, Command: bin, Created: !existed})
	} else {
		in.m.Agents[i].Command = bin
	}
	if state == "already" {
		in.printf("kept       %s (%s: %s already registered)", c.Path, c.Name, mcpServerName)
		return nil
	}
	if err := in.mkdirAll(filepath.Dir(c.Path)); err != nil {
		return err
	}
	if err := in.prepare(c.Path); err != nil {
		return err
	}
	if err := writeUserFile(c.Path, next, mode); err != nil {
		return err
	}
	in.printf("%-10s %s (%s: MCP server %s -> %s mcp)", state, c.Path, c.Name, mcpServerName, bin)
	return nil
}

// registerJSON sets servers[mcpServerName] in a JSON settings file,
// keeping every other member. state is "registered", "updated" or "already".
func registerJSON(cur, member, bin string) (next, state string, err error) {
	doc := map[string]any{}
	if strings.TrimSpace(cur) != "" {
		dec := json.NewDecoder(strings.NewReader(cur))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return "", "", fmt.Errorf("not JSON this installer can edit: %w", err)
		}
	}
	servers, _ := doc[member].(map[string]any)
	if servers == nil {
		if _, ok := doc[member]; ok {
			return "", "", fmt.Errorf("%q is not an object", member)
		}
		servers = map[string]any{}
	}
	entry := map[string]any{"command": bin, "args": []any{"mcp"}}
	state = "registered"
	if old, ok := servers[mcpServerName].(map[string]any); ok {
		if old["command"] == bin && fmt.Sprint(old["args"]) == "[mcp]" {
			return cur, "already", nil
		}
		state = "updated"
		for k, v := range old { // Keep what the user added (env, ...).
			if k != "command" && k != "args" {
				entry[k] = v
			}
		}
	}
	servers[mcpServerName] = entry
	doc[member] = servers
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", "", err
	}
	return string(b) + "\n", state, nil
}

// Codex keeps its servers in TOML tables [mcp_servers.NAME]. A new table
// is appended as text, so that the user's comments and layout stay; the
// result is checked with a TOML parser.
const codexTable = "[mcp_servers." + mcpServerName + "]"

func registerTOML(cur, bin string) (next, state string, err error) {
	var doc map[string]any
	if err := toml.Unmarshal([]byte(cur), &doc); err != nil {
		return "", "", fmt.Errorf("not TOML this installer can read: %w", err)
	}
	block, _ := toml.Marshal(map[string]any{"command": bin, "args": []string{"mcp"}})
	want := codexTable + "\n" + string(block)
	if servers, ok := doc["mcp_servers"].(map[string]any); ok {
		if old, ok := servers[mcpServerName].(map[string]any); ok {
			if old["command"] == bin {
				return cur, "already", nil
			}
			stripped, err := removeTOMLTable(cur, codexTable)
			if err != nil {
				return "", "", err
			}
			cur, state = stripped, "updated"
		}
	}
	if state == "" {
		state = "registered"
	}
	if cur != "" && !strings.HasSuffix(cur, "\n") {
		cur += "\n"
	}
	if cur != "" {
		cur += "\n"
	}
	next = cur + want
	if err := toml.Unmarshal([]byte(next), &doc); err != nil {
		return "", "", fmt.Errorf("the edited file would not parse: %w", err)
	}
	return next, state, nil
}

// removeTOMLTable removes the table headed exactly by header, up to the
// next table header, and checks the rest still parses.
func removeTOMLTable(s, header string) (string, error) {
	lines := strings.SplitAfter(s, "\n")
	var out []string
	skipping := false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == header {
			skipping = true
			continue
		}
		if skipping && strings.HasPrefix(t, "[") {
			skipping = false
		}
		if !skipping {
			out = append(out, l)
		}
	}
	res := strings.TrimRight(strings.Join(out, ""), "\n")
	if res != "" {
		res += "\n"
	}
	var doc map[string]any
	if err := toml.Unmarshal([]byte(res), &doc); err != nil {
		return "", fmt.Errorf("removing %s would break the file: %w", header, err)
	}
	return res, nil
}

// unregister removes our server from a configuration, if it still names
// our binary; a file the install created and that holds nothing else
// goes.
func (in *installer) unregister(a installedAgent) error {
	cur, mode, err := readUserFile(a.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var next string
	if a.Format == "toml" {
		var doc map[string]any
		if err := toml.Unmarshal([]byte(cur), &doc); err != nil {
			return fmt.Errorf("unregister from %s: %w", a.Path, err)
		}
		servers, _ := doc["mcp_servers"].(map[string]any)
		old, _ := servers[a.Name].(map[string]any)
		if old == nil || old["command"] != a.Command {
			in.printf("kept       %s (%s is not ours any more)", a.Path, a.Name)
			return nil
		}
		if next, err = removeTOMLTable(cur, "[mcp_servers."+a.Name+"]"); err != nil {
			return err
		}
	} else {
		doc := map[string]any{}
		dec := json.NewDecoder(strings.NewReader(cur))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return fmt.Errorf("unregister from %s: %w", a.Path, err)
		}
		member := strings.TrimPrefix(a.Format, "json:")
		servers, _ := doc[member].(map[string]any)
		old, _ := servers[a.Name].(map[string]any)
		if old == nil || old["command"] != a.Command {
			in.printf("kept       %s (%s is not ours any more)", a.Path, a.Name)
			return nil
		}
		delete(servers, a.Name)
		if len(servers) == 0 {
			delete(doc, member)
		}
		if len(doc) > 0 {
			b, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return err
			}
			next = string(b) + "\n"
		}
	}
	if strings.TrimSpace(next) == "" && a.Created {
		if err := os.Remove(a.Path); err != nil {
			return fmt.Errorf("unregister: %w", err)
		}
		in.printf("removed    %s", a.Path)
		return nil
	}
	if err := writeUserFile(a.Path, next, mode); err != nil {
		return err
	}
	in.printf("updated    %s (removed MCP server %s)", a.Path, a.Name)
	return nil
}
