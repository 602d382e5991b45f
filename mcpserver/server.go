// Package mcpserver serves the toolbox's tools over the Model Context
// Protocol (stdio), for agents that take custom tools only through MCP:
// today's Amp, Claude Code, Cursor, Codex. It adds no tool of its own:
// names, descriptions, input schemas and answers are those of the Amp
// toolbox entries, from the same toolbox.Tool definitions.
//
// It lives apart from toolbox so that the lean binary behind the toolbox
// entries does not link (and initialise) the MCP SDK on every call.
package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/amp-bg-tasks/amp-bg-tasks/agents"
	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// New returns a Model Context Protocol server offering every tool of
// Tools() under the same name, with the same description and input schema
// as its toolbox entry, answered by the same App.Execute: one definition,
// two protocols, nothing to drift. The server's instructions are the
// AGENTS.md guidance in plain sentences, so MCP clients get it without an
// install step.
func New(a *toolbox.App) (*mcp.Server, error) {
	return newServer(a, &sessions{})
}

func newServer(a *toolbox.App, ss *sessions) (*mcp.Server, error) {
	s := mcp.NewServer(&mcp.Implementation{Name: "amp-bg-tasks", Title: "Background tasks", Version: toolbox.Version()},
		&mcp.ServerOptions{
			Instructions: agents.Instructions(),
			// stdout carries the protocol: anything else goes to stderr,
			// which MCP clients show as the server's log.
			Logger: logger(a.Stderr),
		})
	for _, t := range toolbox.Tools() {
		mt, err := mcpTool(t)
		if err != nil {
			return nil, err
		}
		s.AddTool(mt, handler(a, t, ss))
	}
	return s, nil
}

// sessions gives each client session a reader of its own: a random id,
// made at its first tool call. Over stdio every session is its own
// `bgtask mcp` process, and two windows of one client send the same
// clientInfo name: the name alone would make them one reader, each
// taking the other's lines and notices.
type sessions struct {
	m sync.Map // *mcp.ServerSession -> sessionID
}

type sessionID struct{ client, id string }

// of returns ss's session, made on first use.
func (s *sessions) of(ss *mcp.ServerSession, client string) sessionID {
	if v, ok := s.m.Load(ss); ok {
		return v.(sessionID)
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux and macOS.
	v, _ := s.m.LoadOrStore(ss, sessionID{client: client, id: hex.EncodeToString(b[:])})
	return v.(sessionID)
}

// forget drops what the sessions kept besides their cursors, once the
// server is done with them.
func (s *sessions) forget(ctx context.Context, a *toolbox.App) {
	s.m.Range(func(_, v any) bool {
		id := v.(sessionID)
		a.ForgetSession(toolbox.WithSession(ctx, id.client, id.id))
		return true
	})
}

// mcpTool describes t for MCP: its toolbox schema, converted to the SDK's
// schema type.
func mcpTool(t *toolbox.Tool) (*mcp.Tool, error) {
	b, err := json.Marshal(t.Schema())
	if err != nil {
		return nil, fmt.Errorf("encode %s input schema: %w", t.Name, err)
	}
	var schema jsonschema.Schema
	if err := json.Unmarshal(b, &schema); err != nil {
		return nil, fmt.Errorf("convert %s input schema for MCP: %w", t.Name, err)
	}
	out, err := outputSchema(t)
	if err != nil {
		return nil, err
	}
	destructive, openWorld := t.Destructive, false
	return &mcp.Tool{Name: t.Name, Title: t.Title, Description: t.Description, InputSchema: &schema, OutputSchema: out,
		Annotations: &mcp.ToolAnnotations{Title: t.Title, ReadOnlyHint: t.ReadOnly, DestructiveHint: &destructive, OpenWorldHint: &openWorld}}, nil
}

// outputSchema describes t's structuredContent: an object with the
// properties of every type t's Run returns (bg_status: a list or one
// task's detail), required when every type requires it, and the notices
// Execute adds. Clients such as the TypeScript SDK check answers against
// it, so it is derived from the types, never written by hand.
func outputSchema(t *toolbox.Tool) (*jsonschema.Schema, error) {
	out := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}}
	required := map[string]int{}
	for _, v := range t.Results {
		s, err := jsonschema.ForType(reflect.TypeOf(v), nil)
		if err != nil {
			return nil, fmt.Errorf("%s output schema: %w", t.Name, err)
		}
		portable(s, false)
		for name, p := range s.Properties {
			out.Properties[name] = p
		}
		// Required is what encoding/json always writes: the members of
		// the zero value (the schema's own list would also require the
		// members of an embedded struct that is left out when nil).
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s output schema: %w", t.Name, err)
		}
		var always map[string]json.RawMessage
		if err := json.Unmarshal(b, &always); err != nil {
			return nil, fmt.Errorf("%s output schema: %w", t.Name, err)
		}
		for name := range always {
			required[name]++
		}
	}
	for name, n := range required {
		if n == len(t.Results) {
			out.Required = append(out.Required, name)
		}
	}
	slices.Sort(out.Required)
	notices, err := jsonschema.For[[]toolbox.Notice](nil)
	if err != nil {
		return nil, fmt.Errorf("%s output schema: %w", t.Name, err)
	}
	portable(notices, false) // Present only when there are some.
	notices.Description = "Tasks that ended since this client's previous call, each told once."
	out.Properties["notices"] = notices
	return out, nil
}

// portable rewrites s, in place, into the subset of JSON Schema that every
// client takes: one `type` per schema, never a list of them. (Gemini's
// function declarations, for one, use an OpenAPI subset that rejects a list
// or drops the constraint.) jsonschema.ForType gives Go's pointers, slices
// and maps the type ["null", T]. A member that encoding/json leaves out when
// empty (omitempty) is never null, so it becomes plain T; one it writes as
// null (an exit code not known yet) becomes anyOf [T, null]. nullable says
// which case s is.
func portable(s *jsonschema.Schema, nullable bool) {
	if s == nil {
		return
	}
	for name, p := range s.Properties {
		portable(p, slices.Contains(s.Required, name))
	}
	for _, sub := range [][]*jsonschema.Schema{{s.Items, s.AdditionalProperties, s.AdditionalItems, s.Not}, s.PrefixItems, s.AnyOf, s.OneOf, s.AllOf} {
		for _, p := range sub {
			// An element or a map value is written as null when it is nil.
			portable(p, true)
		}
	}
	for _, p := range s.Defs {
		portable(p, true)
	}
	if len(s.Types) == 0 {
		return
	}
	var types []string
	for _, t := range s.Types {
		if t != "null" {
			types = append(types, t)
		}
	}
	withNull := len(types) < len(s.Types)
	if len(types) == 1 && !(withNull && nullable) {
		s.Types, s.Type = nil, types[0]
		return
	}
	// One branch per type, each with the constraints of s.
	var branches []*jsonschema.Schema
	if withNull && nullable {
		types = append(types, "null")
	}
	for _, t := range types {
		b := *s
		b.Types, b.Type, b.Title, b.Description = nil, t, "", ""
		if t == "null" {
			b = jsonschema.Schema{Type: t}
		}
		branches = append(branches, &b)
	}
	*s = jsonschema.Schema{Title: s.Title, Description: s.Description, AnyOf: branches}
}

// handler answers tools/call for t. The SDK's low-level handler is used
// because Tool.Decode already validates input, more leniently than a JSON
// Schema validator would ("30" for a number, as the toolbox accepts).
// Every failure is a tool error (isError with the message), which the
// model reads and can correct; a protocol error would only reach the
// client's log.
func handler(a *toolbox.App, t *toolbox.Tool, ss *sessions) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		defer func() {
			// One bad call must not take every tool away from the agent
			// for the rest of its session, as a crashed server would.
			if p := recover(); p != nil {
				logger(a.Stderr).Error("tool panicked", "tool", t.Name, "panic", p, "stack", string(debug.Stack()))
				res, err = toolError(fmt.Errorf("%s: internal error: %v", t.Name, p)), nil
			}
		}()
		client := "mcp-client"
		if ip := req.Session.InitializeParams(); ip != nil && ip.ClientInfo != nil && ip.ClientInfo.Name != "" {
			client = "mcp-" + ip.ClientInfo.Name
		}
		id := ss.of(req.Session, client)
		ctx = toolbox.WithSession(ctx, id.client, id.id)
		ctx = toolbox.WithCallLimit(ctx, callLimit(ctx, a, req))
		ctx, delivery := toolbox.WithDelivery(ctx)
		out, err := a.Execute(ctx, t, req.Params.Arguments)
		if ctx.Err() != nil {
			// Cancelled, or the client is gone: this answer reaches
			// nobody, and its lines are left for the next read.
			delivery.Undo()
			return nil, ctx.Err()
		}
		if err != nil {
			return toolError(err), nil
		}
		// The text is what the toolbox prints; structuredContent is the
		// same object for clients that read it instead.
		return &mcp.CallToolResult{
			Content:           []mcp.Content{&mcp.TextContent{Text: string(out)}},
			StructuredContent: out,
		}, nil
	}
}

// callLimit is the CallLimit for req: with a progress token, no bound but
// the tool's own (wait_seconds, at most 600 s) and a notifications/progress
// every toolbox.ProgressEvery; without one, toolbox.CallBound.
func callLimit(ctx context.Context, a *toolbox.App, req *mcp.CallToolRequest) toolbox.CallLimit {
	token := req.Params.GetProgressToken()
	if token == nil {
		return toolbox.CallLimit{Until: time.Now().Add(toolbox.CallBound)}
	}
	return toolbox.CallLimit{Progress: func(waited, total time.Duration) {
		err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token,
			Progress:      math.Round(waited.Seconds()),
			Total:         math.Round(total.Seconds()),
			Message:       fmt.Sprintf("%s: waited %.0f of %.0f s", req.Params.Name, waited.Seconds(), total.Seconds()),
		})
		if err != nil {
			logger(a.Stderr).Warn("send progress", "tool", req.Params.Name, "error", err)
		}
	}}
}

func toolError(err error) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}
}

// Command is `bgtask mcp`.
func Command() cli.Command {
	return cli.Command{Name: "mcp", Summary: "serve the tools to an MCP client on stdin and stdout",
		Example: "claude mcp add bg-tasks -- bgtask mcp\namp mcp add bg-tasks -- bgtask mcp", Run: run}
}

// run serves MCP on stdin and stdout until the client closes stdin.
func run(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.ErrUsage
	}
	if path := loginPath(ctx, a); path != "" {
		a.Environ = setEnv(a.Environ, "PATH", path) // Tasks get the user's PATH.
		logger(a.Stderr).Warn("bare PATH: tasks get the login shell's", "PATH", path)
	}
	if err := serve(ctx, a, a.Stdin, a.Stdout); err != nil {
		return fmt.Errorf("serve MCP on stdio: %w", err)
	}
	return nil
}

// serve answers the client's messages on in, one per line, on out, until
// in ends. The App's streams rather than mcp.StdioTransport's os.Stdin and
// os.Stdout, so that the server can be run in-process too. Closing out is
// left to the caller.
func serve(ctx context.Context, a *toolbox.App, in io.Reader, out io.Writer) error {
	ss := &sessions{}
	s, err := newServer(a, ss)
	if err != nil {
		return err
	}
	defer ss.forget(context.WithoutCancel(ctx), a)
	asked := newInFlight()
	w := &syncWriter{w: out, answered: asked.done}
	g := &lineGuard{r: bufio.NewReader(in), w: w, log: logger(a.Stderr), asked: asked}
	if err := s.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(g), Writer: w}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// maxMessage bounds one line from the client, as the SDK's own stdio
// transport does.
const maxMessage = mcp.DefaultMaxLineLength

// lineGuard passes the client's lines to the SDK, but answers a line that
// the SDK could not take itself, with a JSON-RPC error: the SDK's stdio
// connection ends the session on such a line (not JSON, not a message, a
// batch, too long), and with it every tool the agent has for the rest of
// its session. What it passes on is one JSON-RPC message per line.
type lineGuard struct {
	r       *bufio.Reader
	w       io.Writer
	log     *slog.Logger
	asked   *inFlight // the requests passed on, until answered
	pending []byte    // the rest of the valid line being read
	err     error     // the read error that follows pending
}

// drainBound is how long the end of the client's input waits for the
// answers to requests already read: a script that writes its requests
// and closes stdin gets them (a ping, tools/list, a quick call), while a
// call that waits for a task is cut short, as before, when the client
// has gone.
const drainBound = 2 * time.Second

func (g *lineGuard) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if g.err != nil {
			if errors.Is(g.err, io.EOF) {
				g.asked.wait(drainBound)
			}
			return 0, g.err
		}
		var l line
		l, g.err = readLine(g.r, maxMessage)
		switch {
		case len(bytes.TrimSpace(l.head)) == 0 && l.size == len(l.head):
			continue
		case l.size > maxMessage:
			g.reject(l.head, l.id, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("request too large: %d bytes on one line, at most %d", l.size, maxMessage))
			continue
		}
		if code, msg := checkMessage(l.head); code != 0 {
			g.reject(l.head, nil, code, msg)
			continue
		}
		// One value and a newline: the SDK ends the session on anything
		// after the value but a line end, spaces included.
		g.pending = append(bytes.TrimSpace(l.head), '\n')
		if id, ok := requestID(g.pending); ok {
			g.asked.add(id)
		}
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

// A line as read from the client.
type line struct {
	head []byte          // the line, newline included; only its first max bytes when longer
	size int             // its whole length
	id   json.RawMessage // when longer than max: its top-level "id", if one was found
}

// readLine reads one line, newline included. A line longer than max is
// read to its end but kept only in part: its first max bytes, and its id
// (where a client may well write it last, after a long "params").
func readLine(r *bufio.Reader, max int) (line, error) {
	var l line
	var ids *idScanner
	for {
		chunk, err := r.ReadSlice('\n')
		l.size += len(chunk)
		switch {
		case ids != nil:
			ids.Write(chunk)
		case l.size > max:
			ids = &idScanner{}
			ids.Write(l.head)
			ids.Write(chunk)
		default:
			l.head = append(l.head, chunk...)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if ids != nil {
				l.id = ids.ID()
			}
			return l, err
		}
	}
}

// checkMessage returns a JSON-RPC error code and message for a line the
// SDK could not take, or 0.
func checkMessage(line []byte) (code int, msg string) {
	if !json.Valid(line) {
		return jsonrpc.CodeParseError, "parse error: not a JSON value on one line"
	}
	if bytes.HasPrefix(bytes.TrimSpace(line), []byte("[")) {
		// Batches left JSON-RPC in MCP 2025-06-18; no client sends them.
		return jsonrpc.CodeInvalidRequest, "invalid request: batches are not supported: send one message per line"
	}
	if _, err := jsonrpc.DecodeMessage(line); err != nil {
		return jsonrpc.CodeInvalidRequest, fmt.Sprintf("invalid request: %v", err)
	}
	return 0, ""
}

// reject answers a line the SDK is not given. The answer carries the
// line's id when it can be read (id, for a line too long to parse), null
// otherwise; a batch gets an array with an answer for each of its members,
// as JSON-RPC asks.
func (g *lineGuard) reject(line []byte, id json.RawMessage, code int, msg string) {
	g.log.Warn("rejected a line from the client", "error", msg, "line", string(line[:min(len(line), 200)]))
	answer := func(id json.RawMessage) map[string]any {
		if !validID(id) {
			id = json.RawMessage("null")
		}
		return map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}}
	}
	var v any = answer(id)
	var batch []struct {
		ID json.RawMessage `json:"id"`
	}
	if id == nil {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(line, &req) == nil { // Best effort: without an id the answer has "id": null.
			v = answer(req.ID)
		} else if json.Unmarshal(line, &batch) == nil && len(batch) > 0 {
			var all []any
			for _, m := range batch {
				all = append(all, answer(m.ID))
			}
			v = all
		}
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = g.w.Write(append(b, '\n'))
	}
	if err != nil {
		g.log.Warn("answer a rejected line", "error", err)
	}
}

// validID reports whether id is a JSON-RPC request id: a string or a number.
func validID(id json.RawMessage) bool {
	if len(id) == 0 || !json.Valid(id) {
		return false
	}
	return id[0] == '"' || id[0] == '-' || id[0] >= '0' && id[0] <= '9'
}

// idScanner finds the top-level "id" member of a JSON object written to it
// in pieces, keeping nothing but that member's value, so that a request
// too long to be kept whole can still be answered with its own id. It
// follows strings and nesting only: what is not valid JSON gives no id.
type idScanner struct {
	depth    int
	inString bool
	escaped  bool
	wantKey  bool   // the next string at depth 1 is a member name
	isKey    bool   // the string being read is a member name
	key      []byte // the member name being read, up to a few bytes
	idNext   bool   // the last member name was "id"
	inValue  bool   // reading the id's value
	value    []byte
	id       json.RawMessage
}

// maxID bounds the id's value that is kept.
const maxID = 256

func (s *idScanner) Write(p []byte) {
	for _, c := range p {
		if s.id != nil {
			return
		}
		if s.inValue {
			if !s.inString && s.depth == 1 && (c == ',' || c == '}') {
				s.id = bytes.TrimSpace(s.value)
				s.inValue = false
			} else if len(s.value) < maxID {
				s.value = append(s.value, c)
			}
		}
		if s.inString {
			switch {
			case s.escaped:
				s.escaped = false
			case c == '\\':
				s.escaped = true
			case c == '"':
				s.inString = false
				if s.isKey {
					s.idNext = string(s.key) == "id"
				}
			default:
				if s.isKey && len(s.key) < 4 {
					s.key = append(s.key, c)
				}
			}
			if s.isKey && s.escaped {
				s.key = append(s.key, '\\') // Never "id" then.
			}
			continue
		}
		switch c {
		case '"':
			s.inString, s.isKey, s.key = true, s.depth == 1 && s.wantKey, s.key[:0]
			s.wantKey = false
		case '{', '[':
			s.depth++
			s.wantKey = c == '{' && s.depth == 1
		case '}', ']':
			s.depth--
		case ',':
			s.wantKey = s.depth == 1
		case ':':
			if s.depth == 1 && s.idNext {
				s.inValue, s.value, s.idNext = true, s.value[:0], false
			}
		}
	}
}

// ID is the id found, or nil.
func (s *idScanner) ID() json.RawMessage {
	if !validID(s.id) {
		return nil
	}
	return s.id
}

// syncWriter serializes the SDK's writes and lineGuard's, one whole
// message each, on stdout.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
	// answered, if set, is told the id of each answer written.
	answered func(id string)
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.Write(p)
	if id, ok := answerID(p); ok && s.answered != nil {
		s.answered(id)
	}
	return n, err
}

// inFlight counts the client's requests not answered yet.
type inFlight struct {
	mu   sync.Mutex
	ids  map[string]bool
	idle chan struct{} // closed while none is in flight
}

func newInFlight() *inFlight {
	idle := make(chan struct{})
	close(idle)
	return &inFlight{ids: map[string]bool{}, idle: idle}
}

func (f *inFlight) add(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ids) == 0 {
		f.idle = make(chan struct{})
	}
	f.ids[id] = true
}

func (f *inFlight) done(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids[id] {
		delete(f.ids, id)
		if len(f.ids) == 0 {
			close(f.idle)
		}
	}
}

// wait returns when no request is in flight, or after d.
func (f *inFlight) wait(d time.Duration) {
	f.mu.Lock()
	idle := f.idle
	f.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-idle:
	case <-timer.C:
	}
}

// message is what requestID and answerID read of a JSON-RPC message.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

// requestID is the id of a request (a message with a method and an id;
// a notification has none), as its JSON text.
func requestID(line []byte) (string, bool) {
	var m message
	if json.Unmarshal(line, &m) != nil || m.Method == "" || !validID(m.ID) {
		return "", false
	}
	return string(bytes.TrimSpace(m.ID)), true
}

// answerID is the id of an answer (a message with an id and no method).
func answerID(line []byte) (string, bool) {
	var m message
	if json.Unmarshal(line, &m) != nil || m.Method != "" || !validID(m.ID) {
		return "", false
	}
	return string(bytes.TrimSpace(m.ID)), true
}

// Close leaves stdout open: the process's exit closes it.
func (s *syncWriter) Close() error { return nil }
