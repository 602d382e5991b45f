package mcpserver

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// A server started by a GUI client (Claude Desktop, Cursor, an editor
// launched from the dock) inherits the desktop's bare PATH, not the one
// the user's shell profile builds: `go test` in a task would fail with
// "go: command not found". As editors do, the MCP server then asks the
// user's login shell for its PATH, once, and gives that to its tasks.

// systemDirs are the folders a bare desktop PATH holds.
var systemDirs = map[string]bool{"/usr/bin": true, "/bin": true, "/usr/sbin": true, "/sbin": true, "/usr/local/bin": true, "/usr/local/sbin": true}

// barePath reports whether path holds nothing but system folders.
func barePath(path string) bool {
	for _, d := range filepath.SplitList(path) {
		if d != "" && !systemDirs[filepath.Clean(d)] {
			return false
		}
	}
	return true
}

// loginShellWait bounds asking the login shell: a profile that hangs must
// not keep the server from starting.
const loginShellWait = 5 * time.Second

// loginPath returns the PATH of the user's login shell when the server's
// own PATH is bare, "" otherwise or when the shell cannot tell.
func loginPath(ctx context.Context, a *toolbox.App) string {
	if !barePath(a.Getenv("PATH")) {
		return ""
	}
	sh := a.Getenv("SHELL")
	if !filepath.IsAbs(sh) {
		sh = "/bin/sh"
	}
	ctx, cancel := context.WithTimeout(ctx, loginShellWait)
	defer cancel()
	// Interactive too: many people set PATH in ~/.zshrc or ~/.bashrc.
	// Markers, because profiles print banners.
	cmd := exec.CommandContext(ctx, sh, "-l", "-i", "-c", `printf '\n__BG_PATH__%s__BG_END__\n' "$PATH"`)
	cmd.Env = a.Environ
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return ""
	}
	_, rest, ok := strings.Cut(string(out), "__BG_PATH__")
	path, _, ok2 := strings.Cut(rest, "__BG_END__")
	if !ok || !ok2 || path == "" || barePath(path) {
		return ""
	}
	return path
}

// setEnv returns env with name set to value.
func setEnv(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}
