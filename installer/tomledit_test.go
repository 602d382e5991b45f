package installer

import (
	"testing"

	"github.com/pelletier/go-toml/v2"
)

var codexEntry = []field{{"command", "/h/.local/bin/bgtask"}, {"args", []string{"mcp"}}, {"tool_timeout_sec", codexToolTimeout}}

// Whatever config.toml holds, our table goes in with the user's text
// kept, parses, and comes out leaving the very bytes the file had.
func FuzzTOMLTableRoundTrip(f *testing.F) {
	for _, seed := range []string{"", "# only a comment", "model = \"o3\" # best\n", "[mcp_servers.docs]\ncommand = \"x\"\n\n[profiles.a]\nmodel = \"b\"",
		"[mcp_servers.bg-tasks]\ncommand = \"/old\"\nenv = { A = \"1\" } # mine\n\n[other]\n", "[mcp_servers]\n", "a = [\n  1,\n]\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		next, undo, state, err := setTOMLTable(src, "mcp_servers.bg-tasks", codexEntry)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := toml.Unmarshal([]byte(next), &doc); err != nil {
			t.Fatalf("result does not parse: %v\n%s", err, next)
		}
		ours, _ := tomlLookup(doc, "mcp_servers.bg-tasks").(map[string]any)
		if ours["command"] != "/h/.local/bin/bgtask" || ours["tool_timeout_sec"] != int64(codexToolTimeout) {
			t.Fatalf("our table is not right: %v\n%s", ours, next)
		}
		if again, _, st, err := setTOMLTable(next, "mcp_servers.bg-tasks", codexEntry); err != nil || st != "already" || again != next {
			t.Fatalf("second edit: %q %v", st, err)
		}
		if state != "registered" {
			return
		}
		back, found, err := removeTOMLTable(next, "mcp_servers.bg-tasks", undo, ownedByTest)
		if err != nil || !found || back != src {
			t.Fatalf("not given back (%v %v):\n%q\nwant\n%q\nafter insert:\n%q", found, err, back, src, next)
		}
	})
}

// An update rewrites only our keys' lines: the user's own lines in our
// table, and everything around it, stay.
func TestTOMLTableUpdate(t *testing.T) {
	t.Parallel()
	src := "# codex\n[mcp_servers.bg-tasks]\ncommand = \"/old/bgtask\" # was here\nenv = { A = \"1\" }\n\n[profiles.fast]\nmodel = \"o4-mini\"\n"
	next, _, state, err := setTOMLTable(src, "mcp_servers.bg-tasks", codexEntry)
	if err != nil || state != "updated" {
		t.Fatalf("%q %v", state, err)
	}
	want := "# codex\n[mcp_servers.bg-tasks]\ncommand = '/h/.local/bin/bgtask'\nenv = { A = \"1\" }\nargs = ['mcp']\ntool_timeout_sec = 660\n\n[profiles.fast]\nmodel = \"o4-mini\"\n"
	if next != want {
		t.Errorf("got\n%s\nwant\n%s", next, want)
	}
}
