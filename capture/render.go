package capture

import (
	"bytes"
	"io"
)

// Renderer writes what a program drew on its terminal as the lines that
// stayed on it, for a person's terminal (bgtask logs): the screen the
// cleaner uses renders carriage returns, cursor moves, redraws and clears
// away, so replaying a log never moves or blanks the reader's terminal;
// colours stay where the program wrote them.
type Renderer struct {
	s    *screen
	w    io.Writer
	err  error // the first write error: later writes are dropped
	used bool  // colours were written: Close resets them
	// blank counts blank lines held back: the padding of a clear drops them.
	blank int
}

// NewRenderer returns a Renderer writing to w.
func NewRenderer(w io.Writer) *Renderer {
	r := &Renderer{w: w}
	r.s = newScreen(r.line)
	r.s.colors = true
	// Programs clear their screen by printing a screenful of newlines
	// first (Vite: 48), then going home: those blank lines go with it.
	r.s.cleared = func() { r.blank = 0 }
	return r
}

func (r *Renderer) line(b []byte) {
	if len(b) == 0 {
		r.blank++
		return
	}
	r.writeBlanks()
	r.used = r.used || bytes.IndexByte(b, 0x1b) >= 0
	if r.err == nil {
		_, r.err = r.w.Write(b)
	}
	if r.err == nil {
		_, r.err = r.w.Write([]byte{'\n'})
	}
}

func (r *Renderer) writeBlanks() {
	if r.blank > 0 && r.err == nil {
		_, r.err = r.w.Write(bytes.Repeat([]byte{'\n'}, r.blank))
	}
	r.blank = 0
}

// Write takes raw terminal output; the lines it completes are written
// once the cursor can no longer come back to them (see Flush).
func (r *Renderer) Write(p []byte) (int, error) {
	r.s.write(p)
	return len(p), r.err
}

// Flush writes the lines above the cursor, for output followed as it
// comes: a redraw that later goes up into them can no longer change them.
func (r *Renderer) Flush() error {
	if r.s.row > 0 {
		r.s.flush(r.s.row)
	}
	return r.err
}

// Close writes the rest and resets the colours. Blank lines at the very
// end are left out: nothing follows them (a program that died while
// printing the screenful of newlines that starts a clear leaves 48).
func (r *Renderer) Close() error {
	r.s.finish()
	r.blank = 0
	if r.used && r.err == nil {
		_, r.err = io.WriteString(r.w, "\x1b[0m")
	}
	return r.err
}
