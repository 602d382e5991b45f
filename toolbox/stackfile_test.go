package toolbox

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
)

// The lean build reads a process-compose file's faults from the full
// bgtask's JSON: a fault that wraps a parser's error must come through
// with its file, line and message. (Its error field encoded as {}, which
// does not decode, and bg_run service= answered "<nil>".)
func TestStackAnswerCarriesAWrappedFault(t *testing.T) {
	t.Parallel()
	sent := StackAnswer{Error: &stack.Error{File: "/p/process-compose.yaml", Line: 2, Msg: "not valid YAML: did not find expected node content",
		Err: errors.New("yaml: line 2: did not find expected node content")}}
	b, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	var got StackAnswer
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s does not decode: %v", b, err)
	}
	if got.Error == nil || got.Error.Error() != sent.Error.Error() {
		t.Fatalf("decoded %s as %+v, want %q", b, got.Error, sent.Error.Error())
	}
}
