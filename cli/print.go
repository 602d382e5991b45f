package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// printStreams prints the text an answer carries of each stream, if any,
// to the writer for it.
func printStreams(stdout, stderr *string, wout, werr io.Writer) {
	for _, s := range []struct {
		text *string
		w    io.Writer
	}{{stdout, wout}, {stderr, werr}} {
		if s.text != nil && *s.text != "" {
			fmt.Fprintln(s.w, *s.text)
		}
	}
}

// endedAs is "failed, exit 3", the status coloured by pal.
func endedAs(status string, code *int, pal palette) string {
	if code == nil {
		return pal.status(status)
	}
	return fmt.Sprintf("%s, exit %d", pal.status(status), *code)
}

// printJSON prints v indented, without HTML escaping: `>&2` stays `>&2`.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// localTime shows a recorded UTC time in local time: the time of day for
// today, with the date before.
func localTime(a *toolbox.App, utc string) string {
	t, err := time.Parse(supervisor.TimeLayout, utc)
	if err != nil {
		return utc
	}
	t = t.Local()
	if y, m, d := a.Now().Local().Date(); t.Year() == y && t.Month() == m && t.Day() == d {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// ports are the ports of listening addresses ("127.0.0.1:5173"), each once.
func ports(listening []string) []string {
	var out []string
	for _, l := range listening {
		if i := strings.LastIndexByte(l, ':'); i >= 0 && !slices.Contains(out, l[i+1:]) {
			out = append(out, l[i+1:])
		}
	}
	return out
}
