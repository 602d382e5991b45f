// Package toolbox is the application: the tools agents call (bg_run,
// bg_status, bg_output, bg_stop, bg_send), served over the Amp toolbox
// protocol (describe and execute, dispatched on argv[0]); the human CLI
// (bgtask run|ls|status|logs|stop|...); the reaper; and the hidden
// supervisor entry point. Only Main returns an exit code; everything
// below returns errors.
//
// It does not serve MCP (toolbox/mcpserver does) nor install anything
// (package installer does): the binary behind the toolbox entries links
// only this package and what it needs, so that every tool call starts
// quickly. Those packages add their subcommands through App.Commands.
package toolbox
