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
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/pathlook"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"

	"github.com/pelletier/go-toml/v2"

	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
)

// errDoctor makes `bgtask doctor` exit 1 after printing its findings.
var errDoctor = errors.New("some checks failed (see above)")

// finding is one line of `bgtask doctor`: a check that passed (ok), one
// that failed (with how to fix it), or a note that is neither.
type finding struct {
	ok, note bool
	what     string
	fix      string // for a failure
}

func pass(what string) finding      { return finding{ok: true, what: what} }
func fail(what, fix string) finding { return finding{what: what, fix: fix} }
func noteOnly(what string) finding  { return finding{note: true, what: what} }
func check(ok bool, what, fix string) finding {
	if ok {
		return pass(what)
	}
	return fail(what, fix)
}

// doctor holds what the checks share: the App, the install's paths, and
// the Amp toolbox folder that holds our entries ("" for none).
type doctor struct {
	a          *toolbox.App
	paths      installPaths
	ampToolbox string
}

// cliDoctor checks an installation as a user would when something does
// not work: one line per check, with how to fix what fails. Each check
// returns its findings; one loop prints them, in this order.
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
	d := &doctor{a: a, paths: paths}
	checks := []func(context.Context) []finding{
		d.checkBinary, d.checkAmpToolbox, d.checkAgents, d.checkStateFolder, d.checkNotifications, d.checkShells,
	}
	failed := false
	for _, c := range checks {
		for _, f := range c(ctx) {
			switch {
			case f.note:
				fmt.Fprintf(a.Stdout, "--    %s\n", f.what)
			case f.ok:
				fmt.Fprintf(a.Stdout, "ok    %s\n", f.what)
			default:
				failed = true
				fmt.Fprintf(a.Stdout, "FAIL  %s\n      fix: %s\n", f.what, f.fix)
			}
		}
	}
	if failed {
		return errDoctor
	}
	return nil
}

// checkBinary: bgtask on PATH.
func (d *doctor) checkBinary(context.Context) []finding {
	if p := lookPath("bgtask", d.a.Getenv("PATH")); p != "" {
		return []finding{pass("bgtask on PATH: " + p + " (" + toolbox.Version() + ")")}
	}
	return []finding{fail("bgtask is not on PATH", "bgtask install, then open a new shell (or add "+d.paths.bin+" to PATH)")}
}

// checkAmpToolbox: the folders Amp reads hold our entries, which run the
// lean build (every tool call starts what the entry runs: the lean build
// starts in about half the time of the whole bgtask). It sets
// d.ampToolbox for the checks after it.
func (d *doctor) checkAmpToolbox(context.Context) []finding {
	dirs := []string{d.paths.ampTools}
	if v := d.a.Getenv("AMP_TOOLBOX"); v != "" {
		dirs = filepath.SplitList(v)
	}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "bg-run")); err == nil {
			d.ampToolbox = dir
			break
		}
	}
	out := []finding{check(d.ampToolbox != "", fmt.Sprintf("Amp toolbox entries (bg-run, ...) in a folder Amp reads (%s)", strings.Join(dirs, ":")),
		"bgtask install (it links them into "+d.paths.ampTools+"; a custom folder must be listed in AMP_TOOLBOX)")}
	if d.ampToolbox == "" {
		return out
	}
	target, err := filepath.EvalSymlinks(filepath.Join(d.ampToolbox, "bg-run"))
	switch {
	case err != nil:
		return append(out, fail("bg-run in "+d.ampToolbox+" leads nowhere: "+err.Error(), "bgtask install"))
	case filepath.Base(target) == toolbox.LeanCommand:
		return append(out, pass("the toolbox entries run the lean "+target))
	case filepath.Base(target) == callCommand:
		return append(out, d.checkCallServer(target))
	}
	return append(out, noteOnly("the toolbox entries run "+target+", not the lean "+toolbox.LeanCommand+" (each tool call starts slower): scripts/install.sh, the npm package and release archives bring it, and so does `bgtask install` of a released bgtask with Go on PATH"))
}

// checkCallServer: entries linked to bgtask-call (install --resident)
// hand their calls to the server of the bgtask-tool beside it, which must
// be there; whether a server runs now is said, as either is fine (the
// next call starts one).
func (d *doctor) checkCallServer(call string) finding {
	tool := filepath.Join(filepath.Dir(call), toolbox.LeanCommand)
	if !isFile(tool) {
		return fail("the toolbox entries run "+call+", which has no "+toolbox.LeanCommand+" beside it to hand calls to", "bgtask install --resident")
	}
	running := "none runs now; the next call starts one"
	if addr, err := callsock.Address(tool); err != nil {
		running = err.Error()
	} else if pid, err := callsock.Probe(addr); err == nil {
		running = fmt.Sprintf("one runs, pid %d", pid)
	}
	return pass("the toolbox entries run " + call + " (install --resident): calls go to the call server of " + tool + " (" + running + ")")
}

// checkAgents: each agent's MCP registration.
func (d *doctor) checkAgents(ctx context.Context) []finding {
	var out []finding
	for _, c := range agentConfigs(d.paths) {
		if !c.found(d.a.Getenv("PATH")) {
			out = append(out, noteOnly(c.Name+": not found on this machine"))
			continue
		}
		out = append(out, d.checkAgent(ctx, c)...)
	}
	return out
}

// checkAgent is one agent's registration: present, its binary there,
// and for Codex a tool timeout longer than our longest wait. An Amp that
// reads its toolbox must not have the MCP server too (it would list
// every tool twice).
func (d *doctor) checkAgent(ctx context.Context, c agentConfig) []finding {
	entry, err := registeredEntry(c)
	cmd := entryCommand(entry)
	if c.Key == "amp" && err == nil {
		if takes, known := ampTakesToolbox(ctx, d.a.Getenv("PATH"), d.a.Environ); known && takes {
			switch {
			case d.ampToolbox != "" && cmd != "":
				return []finding{fail("Amp lists every tool twice: from the toolbox ("+d.ampToolbox+") and from MCP server "+mcpServerName+" in "+c.Path,
					"bgtask install --agents amp (it keeps the toolbox and takes the MCP entry out for this Amp)")}
			case d.ampToolbox != "":
				return []finding{pass("Amp takes the tools from its toolbox, once")}
			}
			return []finding{check(cmd != "", "Amp reads the toolbox but has no toolbox entries; MCP server "+mcpServerName+": "+cmd, "bgtask install --agents amp")}
		}
	}
	switch {
	case err != nil:
		return []finding{fail(fmt.Sprintf("%s: cannot read %s: %v", c.Name, c.Path, err), "fix the file by hand, then bgtask install --agents "+c.Key)}
	case cmd == "":
		return []finding{fail(c.Name+": bgtask mcp is not registered in "+c.Path, "bgtask install --agents "+c.Key)}
	}
	_, statErr := os.Stat(cmd)
	out := []finding{check(statErr == nil, fmt.Sprintf("%s: MCP server %s -> %s mcp", c.Name, mcpServerName, cmd), "bgtask install --agents "+c.Key+" (the registered binary is gone)")}
	if !c.TOML {
		return out
	}
	// Codex cuts a tool call after tool_timeout_sec: our waits may last 600 s.
	fix := fmt.Sprintf("bgtask install --agents %s (it sets tool_timeout_sec = %d)", c.Key, codexToolTimeout)
	switch secs, ok := codexTimeout(entry); {
	case !ok:
		out = append(out, fail(fmt.Sprintf("%s: tool_timeout_sec of %s in %s is not a number of seconds: %#v", c.Name, mcpServerName, c.Path, entry["tool_timeout_sec"]), fix))
	case secs < codexToolTimeout:
		out = append(out, fail(fmt.Sprintf("%s cuts tool calls after %d s (tool_timeout_sec), before our longest wait (600 s) ends", c.Name, secs), fix))
	}
	return out
}

// checkStateFolder: the state folder is the user's own and private.
func (d *doctor) checkStateFolder(context.Context) []finding {
	if err := d.a.Store.Check(); err != nil {
		return []finding{fail("state folder "+d.a.Store.Dir+": "+err.Error(), "see the fix above")}
	}
	return []finding{pass("state folder " + d.a.Store.Dir + " is yours and private (or not created yet)")}
}

// checkNotifications: a desktop notification server answers (a note,
// not a failure, when none does).
func (d *doctor) checkNotifications(ctx context.Context) []finding {
	nctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := notify.CheckDesktop(nctx, d.a.Environ); err != nil {
		return []finding{noteOnly("desktop notifications unavailable: " + err.Error() + " (failures are still announced in the next tool answer; BG_NOTIFY_CMD can run your own command)")}
	}
	return []finding{pass("desktop notifications: a notification server answers")}
}

// checkShells: the reaper runs at shell start, and in bash the
// completion script is loaded (by the bash-completion package, else by
// the profile block).
func (d *doctor) checkShells(context.Context) []finding {
	var withReaper []string
	bashBlock := "" // a bash profile's block: it also loads completion
	for _, sh := range knownShells() {
		for _, p := range d.paths.profilePaths(d.a.Getenv, sh) {
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
	out := []finding{check(len(withReaper) > 0, "bg-reaper runs at shell start ("+strings.Join(withReaper, ", ")+")",
		"bgtask install --shell bash,zsh,fish (orphaned servers are otherwise only ended by their timeout)")}
	if bashBlock == "" {
		return out
	}
	script := d.paths.completionPath(d.a.Getenv, "bash")
	switch {
	case !fileExists(script):
		return append(out, fail("bash completion script "+script+" is missing", "bgtask install --shell bash"))
	case bashCompletionInstalled() || strings.Contains(bashBlock, script):
		return append(out, pass("bash completion: "+script+" is loaded at shell start (complete -p bgtask)"))
	}
	return append(out, fail("bash completion: nothing loads "+script+" (no bash-completion package, no profile block for it)", "bgtask install --shell bash (or install the bash-completion package)"))
}

// lookPath finds an executable in the PATH the user gave us.
func lookPath(name, path string) string { return pathlook.Find(name, path) }

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
