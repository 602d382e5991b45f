// Package shell holds the shell-profile snippets `bgtask install` adds:
// they put the binary on PATH, add the toolbox entries' folder to AMP_TOOLBOX
// (keeping Amp's default folder) and
// run the reaper when a shell starts. They are text/template files: the
// folders they name depend on the install's --prefix and --toolbox.
package shell

import (
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Profile is what a snippet needs to know about the install.
type Profile struct {
	Bin     string // the folder holding bgtask and bg-reaper
	Toolbox string // our toolbox folder, added to AMP_TOOLBOX
	// AmpDefault is the folder Amp reads when AMP_TOOLBOX is unset
	// (~/.config/amp/tools); the snippets keep it when they set it.
	AmpDefault string
	// Completion is the bash completion script the install wrote, loaded
	// by the snippet when bash runs it and the bash-completion package
	// (which loads it by itself) is absent; "" for none.
	Completion string
}

// Snippet returns the template for shell ("bash", "zsh" or "fish"). Bash
// and zsh read the same POSIX syntax.
func Snippet(shell string) (*template.Template, error) {
	name := map[string]string{"bash": "posix.tmpl", "zsh": "posix.tmpl", "fish": "fish.tmpl"}[shell]
	if name == "" {
		return nil, fmt.Errorf("no profile snippet for shell %q (want bash, zsh or fish)", shell)
	}
	return template.New(name).Funcs(template.FuncMap{"quote": quote}).ParseFS(files, name)
}

// quote makes s one single-quoted word that POSIX shells and fish read
// alike: a quote inside is written as close quote, backslash-quote, open
// quote, which both understand. fish would also unescape \\ inside
// quotes, so the installer refuses folders with backslashes rather than
// quote them per shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
