// Package installer puts bgtask where agents and shells find it, and
// checks that it is there: `bgtask install` (binaries, Amp toolbox
// entries, skill, AGENTS.md guidance, shell-profile blocks, completion,
// and `bgtask mcp` registered with every coding agent it finds),
// `bgtask install --uninstall` (exactly what a manifest says was added),
// and `bgtask doctor`.
//
// In files that belong to the user and their agents it changes only its
// own entry or marked block, in place: JSON (with comments) through
// hujson, TOML as text checked by a parser, every other byte kept, and
// --uninstall gives the bytes back. A file it cannot edit safely
// (unparsable, read-only, hard-linked) is skipped with a message and the
// rest goes on; replaced files keep their mode and owner, and an agent's
// write that lands during the edit is not lost (see userfile.go).
//
// It installs the binaries it is given: the running bgtask, and the lean
// bgtask-tool and the dist folder of lean builds for remote hosts found
// beside it. Only when there are none, Go is on PATH and bgtask was built
// from a module version does it build them itself (see binaries.go).
package installer

import "github.com/amp-bg-tasks/amp-bg-tasks/cli"

// Commands are the subcommands this package adds to bgtask.
func Commands() []cli.Command {
	return []cli.Command{
		{Name: "install",
			Summary: "install for this user and register with the agents found",
			Example: "bgtask install\nbgtask install --agents claude,codex --shell none\nbgtask install --uninstall", Run: cliInstall},
		{Name: "doctor", Summary: "check the installation, one line per check with how to fix it",
			Example: "bgtask doctor", Run: cliDoctor},
	}
}
