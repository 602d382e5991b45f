// Package stack reads the services a project declares once, in the files
// projects already have: a Procfile (with the .env beside it, as foreman
// and honcho load it) or a process-compose.yaml / .yml (a documented
// subset of its keys, see docs/stacks.md). Find locates the file from a
// folder upwards; Load parses it into a Stack; Stack.Plan orders services
// and their dependencies for a start.
//
// It only reads: it starts, probes and restarts nothing (the toolbox does,
// with the supervisor), and imports nothing of the project. A file it
// cannot read whole is an *Error naming the file and line, and then no
// Stack is returned, so a caller never starts half a project. Keys it does
// not support are kept as Ignored notes, never dropped silently. It does
// not interpolate ${VAR} in process-compose files, nor read
// process-compose's global settings (log_location, shell, ...): those are
// reported as ignored.
package stack
