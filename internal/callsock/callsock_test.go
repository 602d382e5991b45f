package callsock

import (
	"slices"
	"testing"
)

func TestRouted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"bg-run"}, true},
		{[]string{"/home/u/.local/bin/bg-status"}, true},
		{[]string{"bg-send"}, true},
		{[]string{"bg-reaper"}, true},
		{[]string{"bg-reaper", "--max-age", "1h"}, true},
		{[]string{"bg-run", "__supervise", "a", "b"}, false}, // a supervisor is a process of its own
		{[]string{"bg-reaper", "__callserver"}, false},
		{[]string{"bg-status", "--version"}, false},
		{[]string{"bgtask-tool", "status"}, false},
		{[]string{"bgtask-tool"}, false},
		{[]string{"bg-runner"}, false},
		{[]string{""}, false},
		{nil, false},
	} {
		if got := Routed(tc.args); got != tc.want {
			t.Errorf("Routed(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []Request{
		{Args: []string{"bg-run"}, Wd: "/tmp/x y", Environ: []string{"A=1", "TOOLBOX_ACTION=execute", "EMPTY="}},
		{Args: []string{"bg-reaper", "--max-age", "0"}, Wd: ""},
		{Args: []string{""}, Environ: []string{"K==="}},
	} {
		got, err := Decode(r.Encode())
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", r, err)
		}
		if got.Wd != r.Wd || !slices.Equal(got.Args, r.Args) || !slices.Equal(got.Environ, r.Environ) {
			t.Errorf("round trip of %+v gave %+v", r, got)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for _, b := range []string{
		"",
		"bgcall1",                              // not NUL-terminated
		"bgcall2\x00/\x001\x00bg-run\x00",      // another protocol
		"bgcall1\x00/\x000\x00",                // no name
		"bgcall1\x00/\x002\x00bg-run\x00",      // more arguments than fields
		"bgcall1\x00/\x00x\x00bg-run\x00",      // count not a number
		"bgcall1\x00/\x001\x00bg-run\x00A\x00", // environment entry without '='
	} {
		if r, err := Decode([]byte(b)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", b, r)
		}
	}
}

func TestExitRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []int{0, 1, 2, 255} {
		if got, err := DecodeExit(EncodeExit(c)); err != nil || got != c {
			t.Errorf("exit %d came back as %d, %v", c, got, err)
		}
	}
	for _, b := range []string{"", "-1", "256", "x"} {
		if _, err := DecodeExit([]byte(b)); err == nil {
			t.Errorf("DecodeExit(%q) took it", b)
		}
	}
}

// FuzzDecode: whatever arrives, Decode returns an error or a request
// that encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(Request{Args: []string{"bg-run"}, Wd: "/", Environ: []string{"A=1"}}.Encode())
	f.Add([]byte("bgcall1\x00/\x001\x00bg-run\x00"))
	f.Add([]byte("bgcall1\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		if len(r.Args) == 0 {
			t.Fatalf("Decode(%q) took a request without a name", b)
		}
		if back := r.Encode(); string(back) != string(b) {
			t.Fatalf("Decode(%q) = %+v, which encodes as %q", b, r, back)
		}
	})
}
