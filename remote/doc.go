// Package remote runs bgtask's tools on other machines through the
// system's OpenSSH client, with nothing installed there beforehand.
//
// The contract:
//   - Transport is the seam: it runs one command line on a host and
//     streams stdin to it and its stdout back. SSH is the only
//     implementation (containers could follow). It runs the user's own
//     `ssh` (or $BG_SSH, split as git splits GIT_SSH_COMMAND), so their
//     config, agent, keys, ProxyJump, known_hosts and certificates work as
//     in their terminal; it never prompts (BatchMode=yes) and never weakens
//     host-key checking. One master connection per host is kept
//     (ControlMaster=auto, ControlPersist) with its socket in a private
//     0700 folder of ours, so a call costs a round trip, not a handshake.
//   - Failures of ssh itself come back as *Error with a Kind (unknown or
//     changed host key, refused key, unreachable host, missing ssh, a
//     connection dropped mid-call) and a Fix saying what to do.
//   - Deploy makes sure the host runs this build of the lean bgtask-tool:
//     it learns the host's `uname -sm` once, copies the static binary for
//     it (from the dist folder, see FindBinary) into a versioned 0700
//     folder under the remote user's home, and verifies its checksum there.
//   - Records keeps, locally, which task ids live on which host, so that a
//     task id routes itself.
//
// What crosses the network is fixed text of ours (paths, tool names) on
// the remote command line and the tool's JSON parameters on stdin: a
// user's command travels inside that JSON and never meets a shell's
// quoting rules on the way. Nothing listens on any port; no secret is
// written anywhere.
package remote
