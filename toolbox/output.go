package toolbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

func OutputTool() *Tool {
	return &Tool{
		Name:     "bg_output",
		Title:    "Read background task output",
		ReadOnly: true,
		Description: "Read a background task's output, cleaned for an agent: ANSI codes and spinner frames removed, long paths shortened, long lines truncated, " +
			"repeated lines collapsed, at most max_lines lines. By default only what is new since your last read (since=true). " +
			"Use filter (regex) to see only errors, exclude to drop noise such as health checks or HMR. After a failed run, view=digest shows its errors however far from the end.",
		Params: []Param{
			{Name: "task_id", Type: "string", Required: true, Description: "The task, from bg_run."},
			{Name: "stream", Type: "string", Enum: []string{"both", "stdout", "stderr"}, Default: "both", Description: "Which output to read."},
			{Name: "tail", Type: "integer", Min: minimum(0), Description: "Only the last N lines (of the new lines when since=true)."},
			{Name: "filter", Type: "string", Description: "Case-insensitive regex: keep only matching lines, e.g. error|warn|FAIL."},
			{Name: "exclude", Type: "string", Description: "Case-insensitive regex: drop matching lines first, e.g. GET 200|HMR|static."},
			{Name: "context", Type: "integer", Min: minimum(0), Default: 0, Description: "Lines of context around each filter match, like grep -C."},
			{Name: "since", Type: "boolean", Default: true, Description: "Only lines that arrived since your previous read (the first read returns the newest). false reads the whole log."},
			{Name: "max_lines", Type: "integer", Min: minimum(1), Max: maximum(MaxLinesLimit), Description: fmt.Sprintf("Hard cap on lines returned, by default %d (%d for view=digest); the newest are kept, except that raw since-reads page: the oldest new lines first, the rest on the next read.", capture.DefaultMaxLines, DigestMaxLines)},
			{Name: "max_line_len", Type: "integer", Min: minimum(20), Max: maximum(capture.MaxLineLenLimit), Default: capture.DefaultMaxLineLen, Description: "Longer lines are cut and end with ...[truncated] (at most 65536)."},
			{Name: "view", Type: "string", Enum: []string{"tail", "digest"}, Default: "tail", Description: "tail: the newest lines. digest: for a failed run or any log to diagnose, every distinct error, failure, assertion and stack head of the whole log with its context, the summary and exit lines and the last lines, in log order, the rest counted; default max_lines 150 for it."},
			{Name: "wait_seconds", Type: "number", Min: minimum(0), Max: maximum(MaxWaitSeconds), Description: "With since=true: when nothing new matches yet, wait up to this long for new matching lines (or the task's end), then return the whole burst. " + mcpWaitNote()},
			{Name: "raw", Type: "boolean", Default: false, Description: "Skip cleaning (escape codes, paths, truncation, collapsing); filters and the cap still apply."},
		},
		Run:     handle(runBgOutput),
		Results: []any{OutputResult{}},
	}
}

// OutputInput is bg_output's input.
type OutputInput struct {
	TaskID      string  `param:"task_id"`
	Stream      string  `param:"stream"`
	Tail        int     `param:"tail"`
	Filter      string  `param:"filter"`
	Exclude     string  `param:"exclude"`
	Context     int     `param:"context"`
	Since       bool    `param:"since"`
	MaxLines    *int    `param:"max_lines"` // nil: the default depends on view
	MaxLineLen  int     `param:"max_line_len"`
	View        string  `param:"view"`
	WaitSeconds float64 `param:"wait_seconds"`
	Raw         bool    `param:"raw"`
}

// emptyText reports whether a stream's text is absent or empty.
func emptyText(s *string) bool { return s == nil || *s == "" }

// DigestMaxLines is max_lines' default for view=digest: a digest of a
// failed run's log costs about 2,000 tokens.
const DigestMaxLines = 150

// MaxLinesLimit bounds bg_output's max_lines, so that one answer's size
// and the memory to build it stay bounded whatever the log's size.
const MaxLinesLimit = 5000

// StreamMeta locates a read in its stream, counted in lines.
type StreamMeta struct {
	TotalLines int64 `json:"total_lines"`
	Cursor     int64 `json:"cursor"`
	// Remaining counts lines after the cursor that a raw since-read left
	// for the next call.
	Remaining int64 `json:"remaining,omitempty"`
	// Warning says what went wrong around the read without failing it:
	// a cursor that could not be saved (a full disk).
	Warning string `json:"warning,omitempty"`
}

// OutputResult is bg_output's answer; a stream not asked for is absent.
type OutputResult struct {
	TaskID     string      `json:"task_id"`
	Host       string      `json:"host,omitempty"`
	Status     string      `json:"status"`
	Stdout     *string     `json:"stdout,omitempty"`
	Stderr     *string     `json:"stderr,omitempty"`
	StdoutMeta *StreamMeta `json:"stdout_meta,omitempty"`
	StderrMeta *StreamMeta `json:"stderr_meta,omitempty"`
	// WaitingForInput is set when an interactive task's output ends with
	// a line without newline (a prompt): answer it with bg_send.
	WaitingForInput bool `json:"waiting_for_input,omitempty"`
	// Set when a wait stopped at the call's time limit (CallLimit) before
	// wait_seconds: the seconds left, and how to go on waiting.
	WaitLeft float64 `json:"wait_left,omitempty"`
	Message  string  `json:"message,omitempty"`
}

// readOnce is one read of a task's output. A restart moves the task's
// folder aside while its new run starts, and back: a read it cut short
// puts back the cursors it moved and reads again, once, after Load has
// waited for the folder.
func readOnce(ctx context.Context, a *App, in OutputInput) (OutputResult, error) {
	actx, attempt := withAttempt(ctx)
	res, err := readAttempt(actx, a, in)
	var away *folderAway
	if !errors.As(err, &away) {
		return res, err
	}
	if a.undoWhenBack(away.id, attempt) == nil {
		res, err = readAttempt(ctx, a, in)
	}
	if errors.As(err, &away) {
		// Cleaned up while we read it, or moved again.
		return OutputResult{}, &InputError{Param: "task_id", Msg: fmt.Sprintf("%v: %s", supervisor.ErrNoTask, away.id)}
	}
	return res, err
}

// undoWhenBack waits (Load) for task id's folder, which a restart moved
// aside, to be back, and then undoes the cursor moves of an attempt cut
// short by the move: the cursors are in the folder, so that an undo while
// it is away finds none (a trial's finding: lines lost to the reader).
// An error means the task is gone.
func (a *App) undoWhenBack(id string, attempt *Delivery) error {
	_, err := a.Store.Load(id)
	attempt.Undo() // Best effort, as a Delivery's undo is: a task gone has no cursor.
	return err
}

// folderAway is a read cut short because the task's folder was gone:
// removed, or moved aside by a restart.
type folderAway struct{ id string }

func (e *folderAway) Error() string { return "the folder of " + e.id + " went away during the read" }

// folderGone reports whether a read of the task folder dir that failed
// with err, or could not save its cursor (cursorErr), found the folder
// gone: a file it opens or creates there was missing, or the folder is.
func folderGone(dir string, err, cursorErr error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(cursorErr, fs.ErrNotExist) {
		return true
	}
	if err == nil {
		return false
	}
	_, statErr := os.Stat(dir)
	return errors.Is(statErr, fs.ErrNotExist)
}

func readAttempt(ctx context.Context, a *App, in OutputInput) (OutputResult, error) {
	t, err := a.LoadTask(ctx, in.TaskID)
	if err != nil {
		return OutputResult{}, err
	}
	opts := capture.ReadOptions{Tail: in.Tail, Since: in.Since, Reader: a.reader(ctx), Clean: in.CleanOptions(t.Cwd),
		WriterDone: t.Status != supervisor.StatusRunning}
	// Validate once, so a bad regex moves neither stream's cursor.
	if _, err := capture.NewPipeline(opts.Clean); err != nil {
		return OutputResult{}, err
	}
	res := OutputResult{TaskID: t.ID, Status: t.Status}
	var notes []string
	if t.Status == supervisor.StatusRunning && t.Unsupervised {
		notes = append(notes, "supervisor: "+SupervisorGone("bg_stop task_id="+t.ID)+".")
	}
	if len(t.Unreadable) > 0 {
		notes = append(notes, "Its record has fields without a valid value, read as unknown: "+strings.Join(t.Unreadable, "; ")+".")
	}
	res.Message = strings.Join(notes, " ")
	// A prompt ends a stream with a line without newline, quiet since:
	// on stdout (printf, Node's readline) or stderr (bash's read -p,
	// Python's input()). As each read decided, for the streams read.
	partial := map[string]bool{}
	read := map[string]bool{}
	stream := in.Stream
	for _, s := range []struct {
		name string
		text **string
		meta **StreamMeta
	}{{"stdout", &res.Stdout, &res.StdoutMeta}, {"stderr", &res.Stderr, &res.StderrMeta}} {
		if stream != "both" && stream != s.name {
			continue
		}
		r, err := capture.Read(t.Dir, s.name, opts)
		noteMove(ctx, t.Dir, r.Moved) // Put back if the read is cut short (readOnce).
		partial[s.name], read[s.name] = r.QuietPartial, true
		if err == nil && stream == "both" && r.TotalLines == 0 {
			continue // A stream that never said anything: absent, as one not asked for.
		}
		if folderGone(t.Dir, err, r.CursorErr) {
			// Not answered: a cursor the read could not save would
			// repeat its lines, and a moved one is put back (readOnce).
			return OutputResult{}, &folderAway{id: t.ID}
		}
		if err != nil {
			return OutputResult{}, fmt.Errorf("read %s of %s: %w", s.name, t.ID, err)
		}
		if strings.Contains(t.CaptureError, s.name+":") {
			r.Lines = append(r.Lines, "[... capture failed, output is missing: "+t.CaptureError+" ...]")
		}
		text := strings.Join(r.Lines, "\n")
		meta := &StreamMeta{TotalLines: r.TotalLines, Cursor: r.Cursor, Remaining: r.Remaining}
		var warnings []string
		if r.Warning != "" {
			warnings = append(warnings, r.Warning)
		}
		if r.CursorErr != nil {
			warnings = append(warnings, fmt.Sprintf("cursor not saved, the next read repeats these lines: %v", r.CursorErr))
		}
		meta.Warning = strings.Join(warnings, "; ")
		*s.text, *s.meta = &text, meta
	}
	switch {
	case stream == "both" && res.Stdout == nil && res.Stderr == nil:
		if t.Status == supervisor.StatusRunning {
			res.Message = joinNotes(res.Message, "It has printed nothing yet.")
		} else {
			res.Message = joinNotes(res.Message, "It printed nothing.")
		}
	case in.Since && in.WaitSeconds == 0 && emptyText(res.Stdout) && emptyText(res.Stderr):
		// Said, as a wait that found nothing says it: an answer of empty
		// streams reads as if something were cut off. (A wait says it
		// its own way, with how long it waited.)
		res.Message = joinNotes(res.Message, "Nothing new since the last read.")
	}
	if !t.Interactive || t.Status != supervisor.StatusRunning {
		return res, nil
	}
	// From a stream's read itself when there was one: a second look at
	// the file later could find it quiet where the read held its last
	// line back, and report a prompt the answer does not show.
	for _, name := range []string{"stdout", "stderr"} {
		if !read[name] {
			partial[name] = awaitsInput(filepath.Join(t.Dir, name))
		}
	}
	// The prompt is the last thing written: the other stream is quiet too.
	// A prompt on stderr is also unanswered: bg_send has not typed since
	// it was written. Its line never ends once answered, as the answer's
	// echo and what follows go to stdout. (Which log was written last is
	// no guide: each has its own copier in the supervisor.)
	path := func(name string) string { return filepath.Join(t.Dir, name) }
	quiet := func(name string) bool { return !capture.WrittenWithin(path(name), capture.PartialQuiet) }
	unanswered := func(name string) bool {
		fi, err := os.Stat(path(name))
		return err == nil && !supervisor.LastSent(t).After(fi.ModTime()) // A tie is no answer: none comes that fast.
	}
	res.WaitingForInput = partial["stdout"] && quiet("stderr") ||
		partial["stderr"] && quiet("stdout") && unanswered("stderr")
	return res, nil
}

// CleanOptions are the cleaning in asks for, of a task run in cwd.
func (in OutputInput) CleanOptions(cwd string) capture.Options {
	o := capture.Options{
		Raw:        in.Raw,
		MaxLineLen: in.MaxLineLen,
		Cwd:        cwd,
		Filter:     in.Filter,
		Exclude:    in.Exclude,
		Context:    in.Context,
		MaxLines:   capture.DefaultMaxLines,
		Digest:     in.View == "digest",
	}
	switch {
	case in.MaxLines != nil:
		o.MaxLines = *in.MaxLines
	case o.Digest:
		o.MaxLines = DigestMaxLines
	}
	return o
}

// awaitsInput reports whether the file ends with a line without newline
// that output has been quiet after for capture.PartialQuiet: a prompt, as
// the read shows it (a line still being written is held back, and is no
// prompt).
func awaitsInput(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // Read only.
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 || capture.WrittenWithin(path, capture.PartialQuiet) {
		return false
	}
	var b [1]byte
	_, err = f.ReadAt(b[:], fi.Size()-1)
	return err == nil && b[0] != '\n'
}

// Burst gathering: once a waiting read sees new lines, it keeps reading
// until output has been quiet for burstQuiet (at most burstMax), so that a
// compiler's five errors come in one answer, not one per call.
const (
	burstQuiet = 300 * time.Millisecond
	burstMax   = 3 * time.Second
)

// runBgOutputWaiting is bg_output with wait_seconds: a since-read that
// finds nothing new waits for new matching lines or the task's end.
// runBgOutput is bg_output: a read where the task runs.
func runBgOutput(ctx context.Context, a *App, in OutputInput) (OutputResult, error) {
	return a.tasksOf(in.TaskID).Read(ctx, in)
}

func readWaiting(ctx context.Context, a *App, in OutputInput) (OutputResult, error) {
	out, err := readOnce(ctx, a, in)
	wait := in.WaitSeconds
	if err != nil || wait <= 0 || !in.Since {
		return out, err
	}
	clock := newWaitClock(ctx, wait)
	for n := 0; !out.hasLines() && out.Status == supervisor.StatusRunning && !clock.over(); n++ {
		if !clock.sleep(ctx, pollInterval(n)) {
			return out, nil
		}
		if out, err = readOnce(ctx, a, in); err != nil {
			return OutputResult{}, err
		}
	}
	if !out.hasLines() || out.Status != supervisor.StatusRunning {
		switch {
		case out.hasLines() || out.Status != supervisor.StatusRunning:
		case clock.cut():
			out.WaitLeft = clock.left()
			out.Message = joinNotes(out.Message, "Nothing new yet. "+waitMore(fmt.Sprintf("bg_output the same way with wait_seconds=%g", out.WaitLeft)))
		default:
			// Said, not left to the absence of lines: an answer of only
			// an id and a status reads as if something were cut off.
			out.Message = joinNotes(out.Message, fmt.Sprintf("Nothing new within %gs; it is still running.", wait))
		}
		return out, nil
	}
	start, quietSince := time.Now(), time.Now()
	// The burst ends at the call's limit too.
	for time.Since(quietSince) < burstQuiet && time.Since(start) < burstMax && !clock.cut() {
		select {
		case <-ctx.Done():
			return out, nil
		case <-time.After(burstQuiet / 3):
		}
		more, err := readOnce(ctx, a, in)
		if err != nil {
			return out, nil // What was read is the answer.
		}
		if more.hasLines() {
			quietSince = time.Now()
		}
		out.merge(more)
		if more.Status != supervisor.StatusRunning {
			break
		}
	}
	return out, nil
}

// joinNotes joins two sentences of a message, either of which may be "".
func joinNotes(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + " " + b
}

func (r OutputResult) hasLines() bool {
	return r.Stdout != nil && *r.Stdout != "" || r.Stderr != nil && *r.Stderr != ""
}

// merge appends a later read's lines and takes its positions and status.
func (r *OutputResult) merge(later OutputResult) {
	join := func(a, b *string) *string {
		switch {
		case a == nil || *a == "":
			return b
		case b == nil || *b == "":
			return a
		}
		s := *a + "\n" + *b
		return &s
	}
	r.Status = later.Status
	r.Stdout, r.Stderr = join(r.Stdout, later.Stdout), join(r.Stderr, later.Stderr)
	if later.StdoutMeta != nil {
		r.StdoutMeta = later.StdoutMeta
	}
	if later.StderrMeta != nil {
		r.StderrMeta = later.StderrMeta
	}
}
