package toolbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// keys are what bg_send's key parameter types: terminal bytes, so the
// terminal does what a keyboard's key would (ctrl-c sends SIGINT).
var keys = map[string]string{
	"enter": "\r", "ctrl-c": "\x03", "ctrl-d": "\x04", "esc": "\x1b", "tab": "\t",
	"up": "\x1b[A", "down": "\x1b[B",
}

func SendTool() *Tool {
	return &Tool{
		Name:  "bg_send",
		Title: "Type into an interactive task",
		Description: "Type into a running interactive task (started with bg_run interactive=true): answer a prompt such as `Ok to proceed? (y)`, " +
			"drive a REPL, press r to restart a dev server. Then read the answer with bg_output.",
		Params: []Param{
			{Name: "task_id", Type: "string", Required: true, Description: "The interactive task."},
			{Name: "text", Type: "string", Description: "Text to type (at most 4096 bytes)."},
			{Name: "enter", Type: "boolean", Default: true, Description: "Press Enter after the text."},
			{Name: "key", Type: "string", Enum: []string{"enter", "ctrl-c", "ctrl-d", "esc", "tab", "up", "down"}, Description: "A key to press after the text (instead of Enter)."},
		},
		Run:     handle(runBgSend),
		Results: []any{SendResult{}},
	}
}

// SendInput is bg_send's input.
type SendInput struct {
	TaskID string `param:"task_id"`
	Text   string `param:"text"`
	Enter  bool   `param:"enter"`
	Key    string `param:"key"`
}

// SendResult is bg_send's answer.
type SendResult struct {
	TaskID  string `json:"task_id"`
	Host    string `json:"host,omitempty"`
	Sent    int    `json:"sent"` // bytes typed
	Message string `json:"message"`
}

// runBgSend is bg_send: typed where the task runs.
func runBgSend(ctx context.Context, a *App, in SendInput) (SendResult, error) {
	return a.tasksOf(in.TaskID).Send(ctx, in)
}

func sendHere(ctx context.Context, a *App, in SendInput) (SendResult, error) {
	t, err := a.LoadTask(ctx, in.TaskID)
	if err != nil {
		return SendResult{}, err
	}
	typed, err := supervisor.Literal(t, in.Text)
	if err != nil {
		return SendResult{}, &InputError{Param: "text", Msg: err.Error()}
	}
	data := string(typed)
	switch {
	case in.Key != "":
		data += keys[in.Key]
	case in.Enter:
		data += keys["enter"]
	}
	if data == "" {
		return SendResult{}, &InputError{Param: "text", Msg: "nothing to send: give text, or key, or enter=true"}
	}
	if len(data) > supervisor.MaxSend {
		return SendResult{}, &InputError{Param: "text", Msg: fmt.Sprintf("%d bytes, at most %d at once", len(data), supervisor.MaxSend)}
	}
	if err := supervisor.Send(t, []byte(data)); err != nil {
		if errors.Is(err, supervisor.ErrNotInteractive) || errors.Is(err, supervisor.ErrNotRunning) {
			return SendResult{}, &InputError{Param: "task_id", Msg: err.Error()}
		}
		return SendResult{}, err
	}
	return SendResult{TaskID: t.ID, Sent: len(data),
		Message: fmt.Sprintf("Typed %s into %s; read its answer with bg_output task_id=%s wait_seconds=10.", ByteCount(len(data)), t.Label, t.ID)}, nil
}

// ByteCount is "1 byte", "6 bytes".
func ByteCount(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return strconv.Itoa(n) + " bytes"
}
