// Command bgtask-tool is the lean build of bgtask that the installer
// links as the Amp toolbox entries (bg-run, bg-status, bg-output,
// bg-stop, bg-send) and bg-reaper, and that runs each task's supervisor.
// Agents call it on every tool use and shells on every start, so it
// leaves out what only people and MCP clients need (the MCP server, the
// installer): a call then costs little more than starting any program.
// Its CLI is bgtask's without install, mcp and doctor.
package main

import (
	"os"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
)

func main() {
	os.Exit(int(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
}
