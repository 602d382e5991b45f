// Package cli is the people's command line, bgtask run|ls|status|logs|
// stop|restart|send|rm|hosts|reap|completion, one file per command: each
// calls the agent's tools through toolbox.Invoke, with every parameter
// of a tool declared as a flag, and prints the answer for a person
// (tables, colours on a terminal, times in local time). Main also
// dispatches the names the lean binary is installed under (the toolbox
// entries, bg-reaper, a task's supervisor).
//
// It does not decide what a tool does: that is package toolbox, which
// this package only calls. It holds no MCP, TUI or YAML code, so the lean
// bgtask-tool can link it; the full bgtask adds install, doctor, mcp and
// top as extra Commands.
package cli
