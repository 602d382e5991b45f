package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// Shell completion: subcommands, their flags, then task labels and ids,
// which the scripts ask the hidden `bgtask __refs` for as you type.

func completionWords(cmds []Command) []string {
	var words []string
	for _, c := range cmds {
		if !strings.HasPrefix(c.Name, "__") {
			words = append(words, c.Name)
		}
	}
	sort.Strings(words)
	return words
}

// flagInfo is one flag of a command, for completion.
type flagInfo struct {
	name   string   // without dashes
	usage  string   // its help
	values []string // the values it takes, when they are a list (--stream)
	isBool bool     // takes no value
}

// commandFlags returns c's flags: c declares them on a FlagSet and parses
// -h, which every command does before anything else, so nothing runs.
func commandFlags(a *toolbox.App, c Command) []flagInfo {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	quiet := *a
	quiet.Stdout, quiet.Stderr, quiet.Stdin = io.Discard, io.Discard, strings.NewReader("")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Whatever it would start, it starts cancelled.
	_ = c.Run(ctx, &quiet, fs, []string{"-h"})
	var out []flagInfo
	fs.VisitAll(func(f *flag.Flag) {
		fi := flagInfo{name: f.Name, usage: f.Usage}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			fi.isBool = true
		}
		if pv, ok := f.Value.(*paramValue); ok {
			fi.values = pv.p.Enum
		}
		out = append(out, fi)
	})
	return out
}

// dashed is how f is typed: -f, --stream.
func (f flagInfo) dashed() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// CompletionScript is the completion for shell (bash, zsh or fish) of
// this App's commands: subcommands, each one's flags (and the values of
// those that take one of a list), then task labels and ids.
// ctx names the commands (see Run): the full bgtask's, when installer
// asks from its install command.
func CompletionScript(ctx context.Context, a *toolbox.App, shell string) (string, error) {
	all := commandsOf(ctx)
	words := strings.Join(completionWords(all), " ")
	var cmds []Command
	for _, c := range all {
		if !strings.HasPrefix(c.Name, "__") {
			cmds = append(cmds, c)
		}
	}
	switch shell {
	case "bash", "zsh":
		var flagCases, valueCases strings.Builder
		for _, c := range cmds {
			var names []string
			for _, f := range commandFlags(a, c) {
				names = append(names, f.dashed())
				if len(f.values) > 0 {
					fmt.Fprintf(&valueCases, "\t\"%s %s\") COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return;;\n", c.Name, f.dashed(), strings.Join(f.values, " "))
				}
			}
			fmt.Fprintf(&flagCases, "\t%s) flags=\"%s\";;\n", c.Name, strings.Join(names, " "))
		}
		script := `_bgtask() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} flags=
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "` + words + `" -- "$cur"))
		return
	fi
	case "${COMP_WORDS[1]} $prev" in
` + valueCases.String() + `	esac
	case ${COMP_WORDS[1]} in
` + flagCases.String() + `	esac
	case $cur in
	-*) COMPREPLY=($(compgen -W "$flags" -- "$cur"));;
	*) COMPREPLY=($(compgen -W "$(bgtask __refs 2>/dev/null)" -- "$cur"));;
	esac
}
complete -F _bgtask bgtask
`
		if shell == "zsh" {
			script = "autoload -U +X bashcompinit && bashcompinit\n" + script
		}
		return "# bgtask completion for " + shell + " (bgtask completion " + shell + ")\n" + script, nil
	case "fish":
		var b strings.Builder
		b.WriteString(`# bgtask completion for fish (bgtask completion fish)
complete -c bgtask -f -n __fish_use_subcommand -a "` + words + `"
complete -c bgtask -f -n 'not __fish_use_subcommand' -a '(bgtask __refs 2>/dev/null)'
`)
		for _, c := range cmds {
			for _, f := range commandFlags(a, c) {
				opt := "-l " + f.name
				if len(f.name) == 1 {
					opt = "-s " + f.name
				}
				if !f.isBool {
					opt += " -r"
				}
				if len(f.values) > 0 {
					opt += " -a " + fishQuote(strings.Join(f.values, " "))
				}
				desc, _, _ := strings.Cut(strings.ReplaceAll(f.usage, "e.g. ", "e.g.\u00a0"), ". ") // Its first sentence.
				fmt.Fprintf(&b, "complete -c bgtask -f -n '__fish_seen_subcommand_from %s' %s -d %s\n", c.Name, opt, fishQuote(desc))
			}
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("no completion for shell %q (want bash, zsh or fish)", shell)
}

// fishQuote makes s one single-quoted fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func cliCompletion(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	shell, err := oneID(fs, args)
	if err != nil {
		return err
	}
	script, err := CompletionScript(ctx, a, shell)
	if err != nil {
		return err
	}
	fmt.Fprint(a.Stdout, script)
	return nil
}

// cliRefs prints the labels and ids of the tasks, newest first, for
// completion.
func cliRefs(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
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
