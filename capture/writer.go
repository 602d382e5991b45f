package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Defaults for WriterOptions.
const (
	DefaultMaxBytes = 10 << 20
	DefaultBackups  = 5
)

// WriterOptions configure a stream's rotation.
type WriterOptions struct {
	// MaxBytes is the size of one segment. Zero means DefaultMaxBytes.
	// Segments are cut at exactly this size, mid-line if need be: readers
	// join segments back into one stream, so nothing is lost at the cut.
	MaxBytes int64
	// Backups is how many rotated segments lumberjack keeps; older ones
	// are deleted in the background. Zero means DefaultBackups; negative
	// means keep all.
	Backups int
}

// Writer writes one stream of a task ("stdout" or "stderr") into size
// rotated files through lumberjack, and keeps the segment index that lets
// readers count lines that were rotated away.
//
// Writer decides when to rotate instead of leaving it to lumberjack, for
// two reasons: lumberjack's size limit is in whole megabytes, and its backup
// names have millisecond resolution, so two rotations within one
// millisecond would give the same name and the second rename would silently
// replace the first backup. Writer waits for the clock to pass the
// previous backup's millisecond before it rotates.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	dir, stream string
	max         int64
	keep        int // backups lumberjack keeps; 0: all
	lj          *lumberjack.Logger
	size        int64 // bytes in the current file
	lines       int64 // newlines in the current file
	last        byte  // last byte written to the current file
	index       []Segment
	lastBackup  time.Time
	checkpoint  int64 // w.size at the last checkpoint
}

// Segment describes one rotated segment in the index.
type Segment struct {
	Name  string // file name in the task folder
	Lines int64  // newline bytes in it
	Bytes int64
	Cut   bool // ends mid-line
	// Count is how many segments the entry stands for: more than one for
	// deleted ones merged into a single entry (see compactIndex).
	Count int
}

// NewWriter appends to dir/stream, creating it 0600 if needed.
func NewWriter(dir, stream string, o WriterOptions) (*Writer, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	keep := o.Backups
	switch {
	case keep == 0:
		keep = DefaultBackups
	case keep < 0:
		keep = 0 // lumberjack: 0 keeps all.
	}
	index, err := ReadIndex(dir, stream)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		dir: dir, stream: stream, max: o.MaxBytes, keep: keep, index: index,
		lj: &lumberjack.Logger{
			Filename: filepath.Join(dir, stream),
			// Above our own limit, so that lumberjack never rotates on its own.
			MaxSize:    int((o.MaxBytes + 1<<20 - 1) >> 20),
			MaxBackups: keep,
		},
	}
	// Create the file now: people and scripts expect stdout and stderr to
	// exist from the start, and lumberjack would wait for the first byte.
	// A stream that had neither a file nor an index is new (every task's
	// first run): nothing of it is read back, as bg_run waits for this.
	f, err := os.OpenFile(w.lj.Filename, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	isNew := err == nil && index == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(w.lj.Filename, os.O_WRONLY|os.O_APPEND, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", stream, err)
	}
	fi, err := f.Stat()
	_ = f.Close() // Nothing written.
	w.last = '\n'
	if isNew {
		return w, nil
	}
	// The guard against same-millisecond backups must also cover the
	// backups of an earlier Writer on this stream. (A rotation leaves a
	// file and an index: a new stream has no backups.)
	existing, err2 := backups(dir, stream)
	if err2 != nil {
		return nil, err2
	}
	if n := len(existing); n > 0 {
		w.lastBackup, _ = backupTime(stream, existing[n-1])
	}
	if err == nil && fi.Size() > 0 {
		// A stream written before (a restart, a supervisor's second
		// writer): carry on its counts.
		w.size = fi.Size()
		if w.lines, err = countLines(w.lj.Filename); err != nil {
			return nil, err
		}
		w.last = lastByte(w.lj.Filename, w.size)
	}
	return w, nil
}

// Write writes all of p, rotating as many times as needed.
func (w *Writer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.size >= w.max {
			if err := w.rotate(); err != nil {
				return written, err
			}
		}
		chunk := p
		if room := w.max - w.size; int64(len(chunk)) > room {
			chunk = chunk[:room]
		}
		n, err := w.lj.Write(chunk)
		w.size += int64(n)
		w.lines += int64(bytes.Count(chunk[:n], []byte{'\n'}))
		if n > 0 {
			w.last = chunk[n-1]
		}
		written += n
		if err != nil {
			return written, fmt.Errorf("write %s: %w", w.stream, err)
		}
		p = p[n:]
	}
	if w.size-w.checkpoint >= CheckpointBytes {
		// Best effort: without it (a full disk), readers count more.
		if writeCheckpoint(w.dir, w.stream, checkpoint{segments: segmentCount(w.index), bytes: w.size, lines: w.lines}) == nil {
			w.checkpoint = w.size
		}
	}
	return written, nil
}

// Close closes the current file.
func (w *Writer) Close() error { return w.lj.Close() }

func (w *Writer) rotate() error {
	// Wait until lumberjack's clock reads a later millisecond than the last
	// backup's name; see the type comment.
	if d := time.Until(w.lastBackup.Add(time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	before, err := backups(w.dir, w.stream)
	if err != nil {
		return err
	}
	if err := w.lj.Rotate(); err != nil {
		return fmt.Errorf("rotate %s: %w", w.stream, err)
	}
	after, err := backups(w.dir, w.stream)
	if err != nil {
		return err
	}
	var name string
	for _, b := range after {
		if !slices.Contains(before, b) && b > name {
			name = b
		}
	}
	if name == "" {
		return fmt.Errorf("rotate %s: no new backup appeared", w.stream)
	}
	w.lastBackup, _ = backupTime(w.stream, name)
	w.index = compactIndex(append(w.index, Segment{Name: name, Lines: w.lines, Bytes: w.size, Cut: w.size > 0 && w.last != '\n', Count: 1}), w.keep)
	w.size, w.lines, w.checkpoint = 0, 0, 0
	return writeIndex(w.dir, w.stream, w.index)
}

// backupLayout is lumberjack's timestamp format in backup names.
const backupLayout = "2006-01-02T15-04-05.000"

// backupTime parses the time in a backup name, reporting whether name is one.
func backupTime(stream, name string) (time.Time, bool) {
	ts, ok := strings.CutPrefix(name, stream+"-")
	if !ok || len(ts) != len(backupLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(backupLayout, ts)
	return t, err == nil
}

// backups lists the rotated segments of stream in dir, oldest first.
func backups(dir, stream string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments of %s: %w", stream, err)
	}
	var out []string
	for _, e := range ents {
		if _, ok := backupTime(stream, e.Name()); ok && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out) // The timestamp layout sorts chronologically.
	return out, nil
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }() // Read only.
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("count lines in %s: %w", path, err)
	}
	n, err := countNewlines(f, 0, fi.Size())
	if err != nil {
		return n, fmt.Errorf("count lines in %s: %w", path, err)
	}
	return n, nil
}

// lastByte returns the byte at size-1 of path, or '\n' when there is none
// to read (an empty file ends no line).
func lastByte(path string, size int64) byte {
	f, err := os.Open(path)
	if err != nil || size == 0 {
		closeIf(f)
		return '\n'
	}
	defer func() { _ = f.Close() }() // Read only.
	var b [1]byte
	if _, err := f.ReadAt(b[:], size-1); err != nil {
		return '\n'
	}
	return b[0]
}

// GapMarker starts the line that DiscardCurrent leaves where the output
// it deleted was.
const GapMarker = "[bgtask: disk full:"

// DiscardCurrent frees the space of a stream's current file when the disk
// is full and nothing else can be freed (a task's first segment): the
// outcome of a task must be recorded even then. The file's bytes become a
// segment of the index that is gone, as a rotated segment deleted by
// lumberjack is (readers count its lines and announce them as rotated
// away), and the new current file starts with a line that marks the gap.
// It returns the bytes freed, 0 when the file was empty. Only for a
// stream no Writer writes anymore.
func DiscardCurrent(dir, stream string) (int64, error) {
	path := filepath.Join(dir, stream)
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return 0, nil // Nothing to free.
	}
	index, err := ReadIndex(dir, stream)
	if err != nil {
		return 0, err
	}
	lines, err := countLines(path)
	if err != nil {
		return 0, err
	}
	seg := Segment{Lines: lines, Bytes: fi.Size(), Cut: lastByte(path, fi.Size()) != '\n', Count: 1}
	// A backup's name, later than every other, for a file that no longer
	// exists: readers take it as deleted.
	at := time.Now().UTC()
	if n := len(index); n > 0 {
		if last, ok := backupTime(stream, index[n-1].Name); ok && !at.After(last) {
			at = last.Add(time.Millisecond)
		}
	}
	seg.Name = stream + "-" + at.Format(backupLayout)
	if err := os.Remove(path); err != nil {
		return 0, fmt.Errorf("free %s: %w", stream, err)
	}
	if err := writeIndex(dir, stream, append(index, seg)); err != nil {
		return fi.Size(), fmt.Errorf("free %s: %w", stream, err)
	}
	// The stream went on mid-line: the marker starts a line of its own.
	mark := fmt.Sprintf("%s %d bytes of output (%d lines) deleted to record the outcome]\n", GapMarker, seg.Bytes, lines)
	if seg.Cut {
		mark = "\n" + mark
	}
	if err := os.WriteFile(path, []byte(mark), 0o600); err != nil {
		return fi.Size(), fmt.Errorf("mark the gap in %s: %w", stream, err)
	}
	return fi.Size(), nil
}
