// Command bgtask runs long commands in the background for coding agents.
// Installed under the names bg-run, bg-status, bg-output, bg-stop and
// bg-reaper it speaks the Amp toolbox protocol; as bgtask it is a CLI.
package main

import (
	"os"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

func main() {
	os.Exit(int(toolbox.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
}
