package toolbox

import (
	"context"
	"slices"
	"sync"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
)

// A cursor moves only past what the caller received. A since-read saves
// its reader's cursor as it reads (parallel reads of one reader must not
// return the same lines); a front end that then cannot deliver the
// answer (its client went away, its write failed, the caller over ssh
// never said it got it) undoes the moves of the call, so the next read
// returns those lines again. A move that a later read of the same reader
// went past stays: those lines went to that read.

// Delivery records the cursor moves of one tool call.
type Delivery struct {
	mu    sync.Mutex
	moves []dirMove
}

type dirMove struct {
	dir string
	m   capture.CursorMove
}

type deliveryKey struct{}

// WithDelivery returns ctx recording the cursor moves of the call it is
// made for, and the record: Undo it when the answer is not delivered.
func WithDelivery(ctx context.Context) (context.Context, *Delivery) {
	d := &Delivery{}
	return context.WithValue(ctx, deliveryKey{}, d), d
}

// noteMove adds a since-read's move of a cursor in dir to the call's
// record, if it keeps one.
func noteMove(ctx context.Context, dir string, m *capture.CursorMove) {
	d, _ := ctx.Value(deliveryKey{}).(*Delivery)
	if d == nil || m == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.moves = append(d.moves, dirMove{dir, *m})
}

// Undo puts back, newest first, the cursors the call moved. Best effort:
// a task cleaned up meanwhile has no cursor to put back.
func (d *Delivery) Undo() {
	d.mu.Lock()
	moves := slices.Clone(d.moves)
	d.moves = nil
	d.mu.Unlock()
	for i := len(moves) - 1; i >= 0; i-- {
		_, _ = capture.UndoCursor(moves[i].dir, moves[i].m) // Best effort, as above.
	}
}
