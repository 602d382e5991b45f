package toolbox

import "context"

// Readers: who is calling, for bg_output's cursors and for notices. Each
// reader has cursors and a notice memory of its own (see notices.go).

// sessionKey carries, in a context, the session of a protocol server's
// client that is calling (see WithSession).
type sessionKey struct{}

type session struct{ client, id string }

func (s session) reader() string { return s.client + "-" + s.id }

// WithSession returns ctx saying that session id of client is calling.
// Every session is its own reader, with its own cursors and notices: two
// sessions of one client (two windows of one agent, each running its own
// `bgtask mcp`) never take each other's lines. A new session's first
// since-read of a task returns that task's newest lines (at most
// max_lines), then only what is new; its notices start where the
// client's previous sessions left off, so that a task that ended while
// no session was connected is told once, to the next session.
func WithSession(ctx context.Context, client, id string) context.Context {
	s := session{client: client, id: id}
	return context.WithValue(WithReader(ctx, s.reader()), sessionKey{}, s)
}

// readerKey carries, in a context, who is calling when the environment
// does not say: an MCP server serves one client per session, and that
// client's cursors and notices are its own.
type readerKey struct{}

// WithReader returns ctx saying that id is calling: its cursors and
// notices are its own. A protocol server uses it for a client that has
// no thread id in its environment.
func WithReader(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, readerKey{}, id)
}

// reader identifies the caller for bg_output's cursors and for notices:
// the agent's thread id when it sets one, else what the protocol knows of
// the caller, else "" (the shared default reader).
func (a *App) reader(ctx context.Context) string {
	if p, ok := ctx.Value(privateReaderKey{}).(string); ok && p != "" {
		return p // Asked for whatever the environment says (WithPrivateReader).
	}
	// AMP_THREAD_ID is ours; Amp's toolbox runner sets the other two.
	for _, name := range []string{"AMP_THREAD_ID", "AGENT_THREAD_ID", "AMP_CURRENT_THREAD_ID"} {
		if id := a.Getenv(name); id != "" {
			return id
		}
	}
	id, _ := ctx.Value(readerKey{}).(string)
	return id
}
