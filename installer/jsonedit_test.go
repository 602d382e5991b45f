package installer

import (
	"bytes"
	"strings"
	"testing"
)

var testEntry = []field{{"command", "/h/.local/bin/bgtask"}, {"args", []string{"mcp"}}}

func ownedByTest(doc map[string]any) bool { return doc["command"] == "/h/.local/bin/bgtask" }

// Each edit inserts our member written as the file writes its own, and
// removing it gives back the very bytes the file had.
func TestJSONMemberRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"new file", "", "{\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"args\": [\"mcp\"]\n    }\n  }\n}\n"},
		{"empty object", "{}", "{\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"args\": [\"mcp\"]\n    }\n  }\n}"},
		{"empty object, newline", "{}\n", "{\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"args\": [\"mcp\"]\n    }\n  }\n}\n"},
		{"empty container", "{\"mcpServers\": {}}\n", "{\"mcpServers\": {\"bg-tasks\": {\"command\": \"/h/.local/bin/bgtask\", \"args\": [\"mcp\"]}}}\n"},
		{"empty container, multiline", "{\n  \"x\": 1,\n  \"mcpServers\": {}\n}\n",
			"{\n  \"x\": 1,\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"args\": [\"mcp\"]\n    }\n  }\n}\n"},
		{"four spaces", "{\n    \"mcpServers\": {\n        \"other\": {\n            \"command\": \"x\"\n        }\n    }\n}\n",
			"{\n    \"mcpServers\": {\n        \"other\": {\n            \"command\": \"x\"\n        },\n        \"bg-tasks\": {\n            \"command\": \"/h/.local/bin/bgtask\",\n            \"args\": [\"mcp\"]\n        }\n    }\n}\n"},
		{"tabs, no container", "{\n\t\"b\": \"<&>\",\n\t\"a\": \"\\u003c\"\n}",
			"{\n\t\"b\": \"<&>\",\n\t\"a\": \"\\u003c\",\n\t\"mcpServers\": {\n\t\t\"bg-tasks\": {\n\t\t\t\"command\": \"/h/.local/bin/bgtask\",\n\t\t\t\"args\": [\"mcp\"]\n\t\t}\n\t}\n}"},
		{"comments and trailing commas", "{\n  // my settings\n  \"amp.mcpServers\": {\n    \"x\": {\"command\": \"y\"}, // theirs\n  },\n}\n",
			"{\n  // my settings\n  \"amp.mcpServers\": {\n    \"x\": {\"command\": \"y\"}, // theirs\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"args\": [\"mcp\"]\n    },\n  },\n}\n"},
		{"one line", `{"a":1,"mcpServers":{"o":{}}}`, `{"a":1,"mcpServers":{"o":{}, "bg-tasks":{"command": "/h/.local/bin/bgtask", "args": ["mcp"]}}}`},
		{"comment in empty object", "{\n  // nothing yet\n}\n", "{\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"args\": [\"mcp\"]\n    }\n  }\n  // nothing yet\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			container := "mcpServers"
			if strings.Contains(tt.src, "amp.mcpServers") {
				container = "amp.mcpServers"
			}
			next, undo, state, err := setJSONMember([]byte(tt.src), container, "bg-tasks", testEntry)
			if err != nil || state != "registered" {
				t.Fatalf("set: %q %v", state, err)
			}
			if string(next) != tt.want {
				t.Errorf("after insert:\n%s\nwant:\n%s", next, tt.want)
			}
			if _, err := decodeJSONC(next); err != nil {
				t.Errorf("result does not parse: %v", err)
			}
			again, _, state, err := setJSONMember(next, container, "bg-tasks", testEntry)
			if err != nil || state != "already" || string(again) != string(next) {
				t.Errorf("second set: %q %v", state, err)
			}
			back, found, err := removeJSONMember(next, container, "bg-tasks", undo, ownedByTest)
			if err != nil || !found {
				t.Fatalf("remove: %v %v", found, err)
			}
			want := tt.src
			if want == "" {
				want = "{}\n" // The file is removed, as created by us.
			}
			if string(back) != want {
				t.Errorf("after remove:\n%q\nwant:\n%q", back, want)
			}
		})
	}
}

// An update changes only our fields and keeps what the user added.
func TestJSONMemberUpdate(t *testing.T) {
	t.Parallel()
	src := "{\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/old/bgtask\",\n      \"env\": {\"A\": \"<1>\"}\n    }\n  }\n}\n"
	next, _, state, err := setJSONMember([]byte(src), "mcpServers", "bg-tasks", testEntry)
	if err != nil || state != "updated" {
		t.Fatalf("%q %v", state, err)
	}
	want := "{\n  \"mcpServers\": {\n    \"bg-tasks\": {\n      \"command\": \"/h/.local/bin/bgtask\",\n      \"env\": {\"A\": \"<1>\"},\n      \"args\": [\"mcp\"]\n    }\n  }\n}\n"
	if string(next) != want {
		t.Errorf("got\n%s\nwant\n%s", next, want)
	}
	if back, found, _ := removeJSONMember([]byte(src), "mcpServers", "bg-tasks", jsonUndo{}, ownedByTest); found || string(back) != src {
		t.Errorf("removed an entry that is not ours: %s", back)
	}
}

func TestJSONMemberBadInput(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`{"a": `, `[1]`, `{"mcpServers": 3}`, `{"mcpServers": {"bg-tasks": "x"}}`} {
		if _, _, _, err := setJSONMember([]byte(src), "mcpServers", "bg-tasks", testEntry); err == nil {
			t.Errorf("%s: no error", src)
		}
	}
}

// Whatever the settings file holds, the edit never panics, its result
// parses and holds our entry, and taking the entry out gives back the
// very bytes the file had.
func FuzzJSONMemberRoundTrip(f *testing.F) {
	for _, seed := range []string{"", "{}", "{}\n", " {\n}", `{"mcpServers": {}}`, "{\n    \"a\": [1, 2],\n    \"mcpServers\": {\"x\": {}}\n}\n",
		"{\n  // c\n  \"mcpServers\": {\n    \"x\": 1, /* d */\n  },\n}", "{\"a\":1 // e\n}", `{"mcpServers": {"bg-tasks": {"command": "y"}}}`, "[]", "{\"a\":"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		next, undo, state, err := setJSONMember(src, "mcpServers", "bg-tasks", testEntry)
		if err != nil {
			return
		}
		doc, err := decodeJSONC(next)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%q", err, next)
		}
		servers, _ := doc["mcpServers"].(map[string]any)
		if entry, _ := servers["bg-tasks"].(map[string]any); !ownedByTest(entry) {
			t.Fatalf("our entry is not in the result: %q", next)
		}
		if state != "registered" {
			return
		}
		back, found, err := removeJSONMember(next, "mcpServers", "bg-tasks", undo, ownedByTest)
		if err != nil || !found {
			t.Fatalf("remove: %v %v", found, err)
		}
		want := src
		if len(bytes.TrimSpace(src)) == 0 {
			want = []byte("{}\n") // A blank file comes back from the record.
		}
		if !bytes.Equal(back, want) {
			t.Fatalf("not given back:\n%q\nwant\n%q\nafter insert:\n%q", back, want, next)
		}
	})
}
