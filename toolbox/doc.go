// Package toolbox is the application: the tools agents call (bg_run,
// bg_status, bg_output, bg_stop, bg_send), served over the Amp toolbox
// protocol (describe and execute, dispatched on argv[0]), and the hidden
// supervisor entry point (Serve). Callers in Go use Invoke for a typed
// answer, or Call and Execute for raw JSON.
//
// It does not hold the people's command line (package cli), the MCP
// server (package mcpserver) nor the live view (package top): those are
// adapters around the tools. The binary behind the toolbox entries links
// only this package, cli and what they need, so that every tool call
// starts quickly. Only a program's main exits; everything here returns
// errors or exit codes.
package toolbox
