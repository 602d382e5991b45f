package toolbox

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Shell completion: subcommands, then task labels and ids, which the
// scripts ask the hidden `bgtask __refs` for as you type.

func (a *App) completionWords() []string {
	var words []string
	for _, c := range a.commands() {
		if !strings.HasPrefix(c.Name, "__") {
			words = append(words, c.Name)
		}
	}
	sort.Strings(words)
	return words
}

// CompletionScript is the completion for shell (bash, zsh or fish) of
// this App's commands.
func (a *App) CompletionScript(shell string) (string, error) {
	words := strings.Join(a.completionWords(), " ")
	switch shell {
	case "bash", "zsh":
		script := `_bgtask() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "` + words + `" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$(bgtask __refs 2>/dev/null)" -- "$cur"))
	fi
}
complete -F _bgtask bgtask
`
		if shell == "zsh" {
			script = "autoload -U +X bashcompinit && bashcompinit\n" + script
		}
		return "# bgtask completion for " + shell + " (bgtask completion " + shell + ")\n" + script, nil
	case "fish":
		return `# bgtask completion for fish (bgtask completion fish)
complete -c bgtask -f -n __fish_use_subcommand -a "` + words + `"
complete -c bgtask -f -n 'not __fish_use_subcommand' -a '(bgtask __refs 2>/dev/null)'
`, nil
	}
	return "", fmt.Errorf("no completion for shell %q (want bash, zsh or fish)", shell)
}

func cliCompletion(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	shell, err := oneID(fs, args)
	if err != nil {
		return err
	}
	script, err := a.CompletionScript(shell)
	if err != nil {
		return err
	}
	fmt.Fprint(a.Stdout, script)
	return nil
}

// cliRefs prints the labels and ids of the tasks, newest first, for
// completion.
func cliRefs(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	tasks, err := a.Store.List()
	if err != nil {
		return err
	}
	var out []string
	for i := len(tasks) - 1; i >= 0; i-- {
		t := tasks[i]
		if t.Label != t.ID && !slices.Contains(out, t.Label) && !strings.ContainsAny(t.Label, " \t\n") {
			out = append(out, t.Label)
		}
		out = append(out, t.ID)
	}
	fmt.Fprintln(a.Stdout, strings.Join(out, "\n"))
	return nil
}
