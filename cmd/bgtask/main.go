// Command bgtask runs long commands in the background for coding agents:
// the CLI for people, the MCP server (bgtask mcp), the live view
// (bgtask top), the installer and doctor. The Amp toolbox entries and bg-reaper are the lean bgtask-tool,
// which starts faster; installed under those names bgtask serves them too.
package main

import (
	"os"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/installer"
	"github.com/amp-bg-tasks/amp-bg-tasks/mcpserver"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose"
	"github.com/amp-bg-tasks/amp-bg-tasks/top"
)

func main() {
	os.Exit(int(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, append(installer.Commands(), mcpserver.Command(), top.Command(), cli.StackCommand(compose.Parse))...)))
}
