package installer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"

	"github.com/pelletier/go-toml/v2"

	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
)

// errDoctor makes `bgtask doctor` exit 1 after printing its findings.
var errDoctor = errors.New("some checks failed (see above)")

// cliDoctor checks an installation as a user would when something does
// not work: one line per check, with how to fix what fails.
func cliDoctor(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.ErrUsage
	}
	paths, err := newPaths(a, "", "")
	if err != nil {
		return err
	}
	failed := false
	report := func(ok bool, what, fix string) {
		if ok {
			fmt.Fprintf(a.Stdout, "ok    %s\n", what)
			return
		}
		failed = true
		fmt.Fprintf(a.Stdout, "FAIL  %s\n      fix: %s\n", what, fix)
	}
	note := func(what string) { fmt.Fprintf(a.Stdout, "--    %s\n", what) }

	// The binary.
	if p := lookPath("bgtask", a.Getenv("PATH")); p != "" {
		report(true, "bgtask on PATH: "+p+" ("+toolbox.Version()+")", "")
	} else {
		report(false, "bgtask is not on PATH", "bgtask install, then open a new shell (or add "+paths.bin+" to PATH)")
	}

	// The Amp toolbox: the folders Amp reads, and our entries in them.
	dirs := []string{paths.ampTools}
	if v := a.Getenv("AMP_TOOLBOX"); v != "" {
		dirs = filepath.SplitList(v)
	}
	found := ""
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "bg-run")); err == nil {
			found = d
			break
		}
	}
	report(found != "", fmt.Sprintf("Amp toolbox entries (bg-run, ...) in a folder Amp reads (%s)", strings.Join(dirs, ":")),
		"bgtask install (it links them into "+paths.ampTools+"; a custom folder must be listed in AMP_TOOLBOX)")
	if found != "" {
		// Every tool call starts what the entry runs: the lean build
		// starts in about half the time of the whole bgtask.
		target, err := filepath.EvalSymlinks(filepath.Join(found, "bg-run"))
		switch {
		case err != nil:
			report(false, "bg-run in "+found+" leads nowhere: "+err.Error(), "bgtask install")
		case filepath.Base(target) == toolbox.LeanCommand:
			report(true, "the toolbox entries run the lean "+target, "")
		default:
			note("the toolbox entries run " + target + ", not the lean " + toolbox.LeanCommand + " (each tool call starts slower): scripts/install.sh, the npm package and release archives bring it, and so does `bgtask install` of a released bgtask with Go on PATH")
		}
	}

	// Each agent's MCP registration.
	for _, c := range agentConfigs(paths) {
		if !c.found(a.Getenv("PATH")) {
			note(c.Name + ": not found on this machine")
			continue
		}
		entry, err := registeredEntry(c)
		cmd := entryCommand(entry)
		if c.Key == "amp" && err == nil {
			// An Amp that reads its toolbox lists every tool twice
			// when it also has the MCP server.
			takes, known := ampTakesToolbox(ctx, a.Getenv("PATH"), a.Environ)
			if known && takes {
				switch {
				case found != "" && cmd != "":
					report(false, "Amp lists every tool twice: from the toolbox ("+found+") and from MCP server "+mcpServerName+" in "+c.Path,
						"bgtask install --agents amp (it keeps the toolbox and takes the MCP entry out for this Amp)")
				case found != "":
					report(true, "Amp takes the tools from its toolbox, once", "")
				default:
					report(cmd != "", "Amp reads the toolbox but has no toolbox entries; MCP server "+mcpServerName+": "+cmd, "bgtask install --agents amp")
				}
				continue
			}
		}
		switch {
		case err != nil:
			report(false, fmt.Sprintf("%s: cannot read %s: %v", c.Name, c.Path, err), "fix the file by hand, then bgtask install --agents "+c.Key)
		case cmd == "":
			report(false, c.Name+": bgtask mcp is not registered in "+c.Path, "bgtask install --agents "+c.Key)
		default:
			_, statErr := os.Stat(cmd)
			report(statErr == nil, fmt.Sprintf("%s: MCP server %s -> %s mcp", c.Name, mcpServerName, cmd), "bgtask install --agents "+c.Key+" (the registered binary is gone)")
			if c.TOML {
				// Codex cuts a tool call after tool_timeout_sec: our
				// waits may last 600 s.
				fix := fmt.Sprintf("bgtask install --agents %s (it sets tool_timeout_sec = %d)", c.Key, codexToolTimeout)
				switch secs, ok := codexTimeout(entry); {
				case !ok:
					report(false, fmt.Sprintf("%s: tool_timeout_sec of %s in %s is not a number of seconds: %#v", c.Name, mcpServerName, c.Path, entry["tool_timeout_sec"]), fix)
				case secs < codexToolTimeout:
					report(false, fmt.Sprintf("%s cuts tool calls after %d s (tool_timeout_sec), before our longest wait (600 s) ends", c.Name, secs), fix)
				}
			}
		}
	}

	// The state folder.
	if err := a.Store.Check(); err != nil {
		report(false, "state folder "+a.Store.Dir+": "+err.Error(), "see the fix above")
	} else {
		report(true, "state folder "+a.Store.Dir+" is yours and private (or not created yet)", "")
	}

	// Desktop notifications.
	nctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := notify.CheckDesktop(nctx, a.Environ); err != nil {
		note("desktop notifications unavailable: " + err.Error() + " (failures are still announced in the next tool answer; BG_NOTIFY_CMD can run your own command)")
	} else {
		report(true, "desktop notifications: a notification server answers", "")
	}

	// The reaper at shell start.
	withReaper := []string{}
	bashBlock := "" // a bash profile's block: it also loads completion
	for _, sh := range knownShells() {
		for _, p := range paths.profilePaths(a.Getenv, sh) {
			b, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(b), "bg-reaper --max-age") {
				continue
			}
			withReaper = append(withReaper, p)
			if sh == "bash" {
				bashBlock += string(b)
			}
		}
	}
	report(len(withReaper) > 0, "bg-reaper runs at shell start ("+strings.Join(withReaper, ", ")+")",
		"bgtask install --shell bash,zsh,fish (orphaned servers are otherwise only ended by their timeout)")
	// Completion in bash, for an install that set up bash: the
	// bash-completion package loads our script by itself; without it,
	// the profile block must.
	if bashBlock != "" {
		script := paths.completionPath(a.Getenv, "bash")
		loaded := bashCompletionInstalled() || strings.Contains(bashBlock, script)
		switch {
		case !fileExists(script):
			report(false, "bash completion script "+script+" is missing", "bgtask install --shell bash")
		case loaded:
			report(true, "bash completion: "+script+" is loaded at shell start (complete -p bgtask)", "")
		default:
			report(false, "bash completion: nothing loads "+script+" (no bash-completion package, no profile block for it)", "bgtask install --shell bash (or install the bash-completion package)")
		}
	}
	if failed {
		return errDoctor
	}
	return nil
}

// lookPath finds an executable in the PATH the user gave us.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// registeredEntry returns our MCP server's entry in c's configuration,
// nil when there is none.
func registeredEntry(c agentConfig) (map[string]any, error) {
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if c.TOML {
		err = toml.Unmarshal(b, &doc)
	} else {
		doc, err = decodeJSONC(b)
	}
	if err != nil {
		return nil, err
	}
	servers, _ := doc[c.Container].(map[string]any)
	entry, _ := servers[mcpServerName].(map[string]any)
	return entry, nil
}

// bashCompletionInstalled reports whether the bash-completion package is
// here, in the places distributions and Homebrew put it.
func bashCompletionInstalled() bool {
	for _, p := range []string{"/usr/share/bash-completion/bash_completion", "/etc/bash_completion",
		"/opt/homebrew/etc/profile.d/bash_completion.sh", "/usr/local/etc/profile.d/bash_completion.sh"} {
		if fileExists(p) {
			return true
		}
	}
	return false
}

// codexTimeout is a Codex entry's tool_timeout_sec: 60 (Codex's default)
// when it is not set; ok is false when it is not a number.
func codexTimeout(entry map[string]any) (secs int64, ok bool) {
	switch v := entry["tool_timeout_sec"].(type) {
	case nil:
		return 60, true
	case int64:
		return v, true
	case float64:
		return int64(v), true
	}
	return 0, false
}
