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

// Delivery records the cursor moves of one tool call, or of one attempt
// within it (a read that a restart cuts short is undone and made again:
// see readOnce); an attempt's moves are the call's too.
type Delivery struct {
	parent *Delivery // the call's, for an attempt's; nil for a call's
	mu     sync.Mutex
	moves  []dirMove
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

// withAttempt returns ctx recording the cursor moves of one attempt at
// the call's work, which are also recorded as the call's (if ctx keeps
// a record), and the attempt's record: Undo it to make the attempt
// again.
func withAttempt(ctx context.Context) (context.Context, *Delivery) {
	parent, _ := ctx.Value(deliveryKey{}).(*Delivery)
	d := &Delivery{parent: parent}
	return context.WithValue(ctx, deliveryKey{}, d), d
}

// noteMove adds a since-read's move of a cursor in dir to the call's
// record (and its attempt's), if it keeps one.
func noteMove(ctx context.Context, dir string, m *capture.CursorMove) {
	if m == nil {
		return
	}
	d, _ := ctx.Value(deliveryKey{}).(*Delivery)
	for ; d != nil; d = d.parent {
		d.mu.Lock()
		d.moves = append(d.moves, dirMove{dir, *m})
		d.mu.Unlock()
	}
}

// Undo puts back, newest first, the cursors the call (or the attempt)
// moved. Best effort: a task cleaned up meanwhile has no cursor to put
// back, and a cursor moved on since stays. The call's record keeps an
// attempt's moves undone: undone again, they find the cursor moved on
// (back), and leave it.
func (d *Delivery) Undo() {
	d.mu.Lock()
	moves := slices.Clone(d.moves)
	d.moves = nil
	d.mu.Unlock()
	for i := len(moves) - 1; i >= 0; i-- {
		_, _ = capture.UndoCursor(moves[i].dir, moves[i].m) // Best effort, as above.
	}
}
