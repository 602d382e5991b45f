package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
)

// rpcAnswer is one JSON-RPC response as the client reads it.
type rpcAnswer struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// rawSession is an MCP server spoken to line by line.
type rawSession struct {
	t      *testing.T
	in     io.WriteCloser
	answer chan []byte // the server's lines, closed when its output ends
}

// startRaw starts `bgtask mcp` as a real process (the test binary, as Main).
func startRaw(t *testing.T) *rawSession {
	a := toolboxtest.NewApp(t)
	cmd, stderr := mcpCommand(t, a)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bgtask mcp stderr:\n%.3000s", stderr)
		}
	})
	// Wait after the last read: it closes stdout.
	return newRawSession(t, in, out, cmd.Wait, func() { _ = cmd.Process.Kill() })
}

// serveRaw runs the same server in-process on pipes: what a fuzz test
// can run thousands of times, and see the coverage of.
func serveRaw(t *testing.T) *rawSession {
	a := toolboxtest.NewApp(t)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, a, inR, outW)
		_ = outW.Close() // The session's end, for the reader.
		done <- err
	}()
	return newRawSession(t, inW, outR, func() error { return <-done }, cancel)
}

// newRawSession reads out's lines into answer, and at the test's end
// closes in, which must end the server (wait), or kills it.
func newRawSession(t *testing.T, in io.WriteCloser, out io.Reader, wait func() error, kill func()) *rawSession {
	s := &rawSession{t: t, in: in, answer: make(chan []byte, 64)}
	waited := make(chan error, 1)
	go func() {
		r := bufio.NewReaderSize(out, 1<<16)
		for {
			l, err := r.ReadBytes('\n')
			if len(l) > 0 {
				s.answer <- l
			}
			if err != nil {
				break
			}
		}
		close(s.answer)
		waited <- wait()
	}()
	t.Cleanup(func() {
		_ = in.Close() // Ends the session, if it has not ended.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			select {
			case _, open := <-s.answer:
				if open {
					continue
				}
			case <-ctx.Done():
			}
			break
		}
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("the server: %v", err)
			}
		case <-ctx.Done():
			kill()
			t.Error("the server did not end when its input closed")
		}
		kill() // Best effort: it has ended.
	})
	return s
}

// send writes raw bytes to the server; a write the server stopped reading
// fails the test when the deadline passes.
func (s *rawSession) send(b []byte) {
	s.t.Helper()
	errc := make(chan error, 1)
	go func() { _, err := s.in.Write(b); errc <- err }()
	select {
	case err := <-errc:
		if err != nil {
			s.t.Fatalf("write to the server: %v", err)
		}
	case <-time.After(60 * time.Second):
		s.t.Fatal("the server stopped reading its input")
	}
}

// until reads answers until one has id, and returns the answers read
// (that one last). It fails the test when the session ends or 60 s pass.
func (s *rawSession) until(id string) []rpcAnswer {
	s.t.Helper()
	var got []rpcAnswer
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-s.answer:
			if !ok {
				s.t.Fatalf("the session ended before the answer to %s (answers: %+v)", id, got)
			}
			var batch []rpcAnswer
			if json.Unmarshal(l, &batch) == nil {
				got = append(got, batch...)
				continue
			}
			var a rpcAnswer
			if err := json.Unmarshal(l, &a); err != nil || a.Version != "2.0" {
				s.t.Fatalf("not a JSON-RPC 2.0 line (%v): %.300s", err, l)
			}
			got = append(got, a)
			if string(a.ID) == id {
				return got
			}
		case <-timeout:
			s.t.Fatalf("no answer to %s in 60 s (answers: %+v)", id, got)
		}
	}
}

func ping(id string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}` + "\n")
}

// A line the SDK would end the session on is answered with a JSON-RPC
// error, and the server goes on answering: batches (gone from MCP since
// 2025-06-18), a value followed by spaces, a request too long to read.
func TestMCPBadLinesKeepTheSession(t *testing.T) {
	t.Parallel()
	initialize := `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`
	tests := []struct {
		name string
		line string
		want map[string]string // id -> the error message it must contain ("" for a result)
	}{
		{"empty batch", `[]`, map[string]string{"null": "batches are not supported"}},
		{"batch of a number", `[1]`, map[string]string{"null": "batches are not supported"}},
		{"batch of an empty object", `[{}]`, map[string]string{"null": "batches are not supported"}},
		{"valid one-item batch", `[{"jsonrpc":"2.0","id":7,"method":"ping"}]`, map[string]string{"7": "batches are not supported"}},
		{"batch of two", `[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
			map[string]string{"\"a\"": "batches are not supported", "null": "batches are not supported"}},
		{"trailing spaces", `{"jsonrpc":"2.0","id":8,"method":"ping"}   `, map[string]string{"8": ""}},
		{"not JSON", `{"jsonrpc":`, map[string]string{"null": "parse error"}},
		{"an object id", `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, map[string]string{"null": "invalid request"}},
		{"a stray response", `{"jsonrpc":"2.0","id":999,"result":{}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startRaw(t)
			s.send([]byte(initialize + "\n"))
			s.until(`"init"`)
			s.send([]byte(tt.line + "\n"))
			s.send(ping(`"after"`))
			got := s.until(`"after"`)
			if got[len(got)-1].Error != nil {
				t.Errorf("ping after the line: %+v", got[len(got)-1].Error)
			}
			for id := range tt.want {
				if !slices.ContainsFunc(got, func(a rpcAnswer) bool { return string(a.ID) == id }) {
					// Requests are served concurrently: a valid one may
					// be answered after the ping that followed it.
					got = append(got, s.until(id)...)
				}
			}
			for id, want := range tt.want {
				found := false
				for _, a := range got {
					if string(a.ID) != id {
						continue
					}
					found = true
					switch {
					case want == "" && a.Error != nil:
						t.Errorf("answer to %s: error %+v, want a result", id, a.Error)
					case want != "" && (a.Error == nil || !strings.Contains(a.Error.Message, want)):
						t.Errorf("answer to %s: %+v, want an error containing %q", id, a, want)
					}
				}
				if !found {
					t.Errorf("no answer with id %s (answers: %+v)", id, got)
				}
			}
		})
	}
}

// A request longer than the server takes (more than maxMessage bytes on
// one line) is answered with its own id, wherever the client put the id:
// first, or last after the long params as the TypeScript SDK writes it.
func TestMCPTooLargeRequestAnsweredWithItsID(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: streams two 16 MB requests")
	}
	big := strings.Repeat("x", maxMessage+1)
	s := startRaw(t)
	for _, req := range []struct{ id, line string }{
		{"41", `{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"bg_send","arguments":{"task_id":"task-1-x","text":"` + big + `"}}}`},
		{`"last"`, `{"method":"tools/call","params":{"name":"bg_send","arguments":{"task_id":"task-1-x","text":"` + big + `","id":"inner"}},"jsonrpc":"2.0","id":"last"}`},
	} {
		s.send([]byte(req.line + "\n"))
		got := s.until(req.id)
		last := got[len(got)-1]
		if last.Error == nil || !strings.Contains(last.Error.Message, "request too large") {
			t.Errorf("answer to the %d-byte request %s: %+v, want a too-large error", len(req.line), req.id, last)
		}
	}
	s.send(ping("2"))
	s.until("2")
}

// Whatever the client writes, the session survives it and answers the
// ping that follows.
func FuzzFraming(f *testing.F) {
	for _, seed := range []string{
		``, "\n", "\r\n", `[]`, `[1]`, `[{}]`, `[[]]`, `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
		`{"jsonrpc":"2.0","id":1,"method":"ping"} `, `{"jsonrpc":"2.0","id":1,"method":"ping"}{}`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
		`{"jsonrpc":"2.0","id":1e400,"method":"ping"}`, `{"jsonrpc":"2.0","id":null,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"f","version":"0"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, `{"jsonrpc":"1.0","id":3,"method":"ping"}`,
		"\x00\xff\xfe", `"`, `{"id":"\u0000"}`, `null`, `1`, `"ping"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serveRaw(t)
		s.send(append(data, '\n'))
		s.send(ping(`"fuzz-ping"`))
		got := s.until(`"fuzz-ping"`)
		if a := got[len(got)-1]; a.Error != nil && !bytes.Contains(data, []byte("fuzz-ping")) {
			t.Errorf("ping answered with %+v", a.Error)
		}
	})
}

// A script writes its requests and closes the server's input: the
// requests already read are answered before the server ends (they were
// dropped: only the first came back).
func TestMCPAnswersWhatWasReadBeforeInputEnds(t *testing.T) {
	t.Parallel()
	s := serveRaw(t)
	s.send([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"script","version":"0"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}` + "\n" +
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"bg_status","arguments":{}}}` + "\n"))
	if err := s.in.Close(); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for l := range s.answer {
		var a rpcAnswer
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatalf("not JSON-RPC: %s", l)
		}
		ids[string(a.ID)] = true
	}
	for _, id := range []string{"1", "2", "3"} {
		if !ids[id] {
			t.Errorf("no answer to request %s before the end (answers: %v)", id, ids)
		}
	}
}
