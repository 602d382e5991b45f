package toolbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// A tool run on another host for a caller here (see remote.Deployer.Tool)
// must stop as soon as its caller is gone: a cancelled MCP call, a client
// timeout, a killed CLI or a dropped connection would otherwise leave it
// waiting there for up to MaxWaitSeconds, and its since-read would then
// take lines nobody received. So the caller keeps the tool's stdin open
// for the whole call: its parameters come as the first line, then the
// caller says "ack" once it has the whole answer. stdin closing before
// that (ssh ended: the caller, or the connection, is gone) or SIGHUP
// cancels the call.

// ackWait bounds how long an answered tool waits for the caller's ack.
const ackWait = 30 * time.Second

// serveSSHCaller is ServeToolbox's execute for a caller over ssh.
func (a *App) serveSSHCaller(ctx context.Context, t *Tool) ExitCode {
	in := bufio.NewReader(a.Stdin)
	raw, err := in.ReadBytes('\n')
	if err != nil && (!errors.Is(err, io.EOF) || len(bytes.TrimSpace(raw)) == 0) {
		return writeError(a.Stdout, fmt.Errorf("read input: %w", err))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	acked := make(chan bool, 1)
	go func() {
		line, _ := in.ReadString('\n')
		ok := bytes.Equal(bytes.TrimSpace([]byte(line)), []byte(remote.CallAck))
		acked <- ok
		if !ok {
			cancel() // The caller is gone: stop waiting for it.
		}
	}()
	done := ctx.Done()
	go func() {
		select {
		case <-hup:
			cancel()
		case <-done:
		}
	}()
	if left, err := parseSeconds(a.Getenv(remote.CallLeftEnv)); err == nil && left >= 0 {
		ctx = WithCallLimit(ctx, CallLimit{Until: time.Now().Add(left)})
	}
	ctx, delivery := WithDelivery(ctx)
	res, err := a.Execute(ctx, t, raw)
	code := ExitOK
	if err != nil {
		res, _ = marshal(map[string]string{"error": err.Error()}) // A map of strings always marshals.
		code = ExitError
	}
	// One line: the caller takes the first newline for the answer's end.
	var line bytes.Buffer
	if json.Compact(&line, res) != nil {
		line.Reset()
		line.Write(bytes.ReplaceAll(res, []byte("\n"), nil))
	}
	line.WriteByte('\n')
	if _, err := a.Stdout.Write(line.Bytes()); err != nil {
		delivery.Undo() // Nobody got these lines.
		return ExitError
	}
	// The lines count as delivered once the caller says it has the
	// answer; a caller gone first (ssh killed, the link dropped) leaves
	// them for the next read.
	if ctx.Err() != nil {
		delivery.Undo() // Hung up, or its stdin ended: nobody waits for this.
		return code
	}
	select {
	case ok := <-acked:
		if !ok {
			delivery.Undo()
		}
	case <-done:
		delivery.Undo() // Hung up meanwhile.
	case <-time.After(ackWait):
		delivery.Undo()
	}
	return code
}

// parseSeconds reads a number of seconds, as remote.CallLeftEnv carries it.
func parseSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > MaxWaitSeconds*2 {
		return 0, fmt.Errorf("seconds %q: not a number of seconds", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}
