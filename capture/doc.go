// Package capture owns a task's output after it leaves the PTY: the
// size-rotated log files a stream is written to, reading one stream back as
// a single logical log across its rotated segments, and the cleaning that
// turns raw terminal output into the few lines an agent should read.
//
// A stream named "stdout" lives in a task folder as the current file
// "stdout", its rotated segments "stdout-<UTC time>" (lumberjack's backup
// names, oldest first by name) and an index ".stdout.segments" written by
// the supervisor at each rotation so that lines rotated away can still be
// counted. Readers work without the index too: a folder holding only plain
// files is read as one segment per file.
//
// capture does not start processes, does not know about PTYs and never
// deletes files itself (lumberjack prunes old segments).
package capture
