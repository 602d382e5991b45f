package installer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Where an install puts things: folders from HOME, XDG and the flags, and
// the shells whose profiles it edits.

// knownShells are the shells whose profile the installer knows.
func knownShells() []string { return []string{"bash", "zsh", "fish"} }

// installPaths are the folders and files an install writes.
type installPaths struct {
	home      string
	bin       string // bgtask, bgtask-tool and bg-reaper; the dist folder goes to bin/../lib/amp-bg-tasks/dist
	toolbox   string // one toolbox entry per tool; default Amp's own folder
	ampTools  string // the folder Amp reads when AMP_TOOLBOX is unset
	agentsDir string // ~/.config/agents: AGENTS.md and skills/
	manifest  string
	configDir string // XDG_CONFIG_HOME or ~/.config
}

func newPaths(a *toolbox.App, prefix, toolbox string) (installPaths, error) {
	home := a.Getenv("HOME")
	if !filepath.IsAbs(home) {
		return installPaths{}, fmt.Errorf("HOME must be an absolute path, got %q", home)
	}
	config := a.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(config) {
		config = filepath.Join(home, ".config") // As the XDG spec says of a relative value.
	}
	p := installPaths{
		home:      home,
		bin:       filepath.Join(home, ".local", "bin"),
		agentsDir: filepath.Join(config, "agents"),
		manifest:  filepath.Join(config, "amp-bg-tasks", "install.json"),
		configDir: config,
	}
	// Amp's own default folder: found without AMP_TOOLBOX, by any shell.
	p.ampTools = filepath.Join(config, "amp", "tools")
	p.toolbox = p.ampTools
	if prefix != "" {
		p.bin = filepath.Join(absPath(a, prefix), "bin")
	}
	if toolbox != "" {
		p.toolbox = absPath(a, toolbox)
	}
	for _, dir := range []string{p.bin, p.toolbox} {
		// The shell snippets quote these for POSIX shells and fish at once;
		// fish unescapes backslashes inside quotes, POSIX shells do not.
		if strings.ContainsAny(dir, "\\\n") {
			return p, fmt.Errorf("folder %q: backslashes and newlines are not supported in install folders", dir)
		}
	}
	return p, nil
}

// absPath makes a flag's path absolute: ~ is HOME, relative is from the
// current folder.
func absPath(a *toolbox.App, p string) string {
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		return filepath.Join(a.Getenv("HOME"), p[1:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	default:
		return filepath.Join(a.Wd, p)
	}
}

// profilePaths are where shell's startup lines go: for bash, ~/.bashrc
// (interactive shells) and the login profile (login shells, which read
// only ~/.bash_profile, or ~/.profile when there is none: macOS
// terminals, `bash -l`). The snippet is safe to run twice.
func (p installPaths) profilePaths(getenv func(string) string, sh string) []string {
	paths := []string{p.profilePath(getenv, sh)}
	if sh == "bash" {
		login := filepath.Join(p.home, ".bash_profile")
		if _, err := os.Stat(login); err != nil {
			login = filepath.Join(p.home, ".profile")
		}
		paths = append(paths, login)
	}
	return paths
}

// completionPath is where shell loads completions from by itself: the
// bash-completion package's user folder, fish's completions folder. zsh
// has no such folder by default: "" (see bgtask completion zsh).
func (p installPaths) completionPath(getenv func(string) string, sh string) string {
	switch sh {
	case "bash":
		data := getenv("XDG_DATA_HOME")
		if !filepath.IsAbs(data) {
			data = filepath.Join(p.home, ".local", "share")
		}
		return filepath.Join(data, "bash-completion", "completions", "bgtask")
	case "fish":
		return filepath.Join(p.configDir, "fish", "completions", "bgtask.fish")
	}
	return ""
}

// profilePath is where shell's interactive startup lines go. fish gets a
// file of its own in conf.d, which fish reads by itself.
func (p installPaths) profilePath(getenv func(string) string, sh string) string {
	switch sh {
	case "zsh":
		if dir := getenv("ZDOTDIR"); filepath.IsAbs(dir) {
			return filepath.Join(dir, ".zshrc")
		}
		return filepath.Join(p.home, ".zshrc")
	case "fish":
		return filepath.Join(p.configDir, "fish", "conf.d", "amp-bg-tasks.fish")
	default:
		return filepath.Join(p.home, ".bashrc")
	}
}

// chooseShells parses --shell; without it, the shells in use here: the
// login shell, those on PATH, those with a profile already.
func chooseShells(a *toolbox.App, list string, p installPaths) ([]string, error) {
	if list == "none" {
		return nil, nil
	}
	if list != "" {
		var out []string
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(knownShells(), s) {
				return nil, fmt.Errorf("--shell: unknown shell %q (want %s, or none)", s, strings.Join(knownShells(), ", "))
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []string
	for _, s := range knownShells() {
		_, statErr := os.Stat(p.profilePath(a.Getenv, s))
		if filepath.Base(a.Getenv("SHELL")) == s || statErr == nil || onPath(a.Getenv("PATH"), s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func onPath(path, name string) bool { return lookPath(name, path) != "" }
