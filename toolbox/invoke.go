package toolbox

import (
	"context"
	"encoding/json"
	"fmt"
)

// Invoke calls tool t with params, decoded, checked, defaulted and
// routed as an agent's call is (see App.Call), and returns its answer
// typed: the CLI and top behave exactly as the agent tools do. Call stays
// for the protocols that carry raw JSON (the Amp toolbox, MCP).
func Invoke[Out any](ctx context.Context, a *App, t *Tool, params map[string]any) (Out, error) {
	var zero Out
	raw, err := json.Marshal(params)
	if err != nil {
		return zero, fmt.Errorf("%s: encode the parameters: %w", t.Name, err)
	}
	res, err := a.Call(ctx, t, raw)
	if err != nil {
		return zero, err
	}
	out, ok := res.(Out)
	if !ok {
		return zero, fmt.Errorf("%s answered a %T, not a %T", t.Name, res, zero)
	}
	return out, nil
}

// BindParams decodes params as t's input: checked, defaults applied.
func BindParams[In any](t *Tool, params map[string]any) (In, error) {
	var in In
	raw, err := json.Marshal(params)
	if err != nil {
		return in, fmt.Errorf("%s: encode the parameters: %w", t.Name, err)
	}
	decoded, err := t.Decode(raw)
	if err != nil {
		return in, err
	}
	return in, decoded.Bind(&in)
}
