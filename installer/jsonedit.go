package installer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/tailscale/hujson"
)

// Editing one member of an agent's JSON settings in place. The files are
// the user's (and the agent's, which rewrites them while it runs), so the
// edit inserts, replaces or removes our member and leaves every other
// byte as it was: order, escapes, indentation, comments, trailing commas
// and the final newline. hujson parses JSON with comments and trailing
// commas (JSONC, as Amp, VS Code, Zed and opencode allow) into a tree that
// keeps every byte, and packs it back unchanged.

// field is one member of the entry we write, in the order written.
type field struct {
	Name  string
	Value any // a string, bool, number or []string
}

// jsonUndo is what --uninstall needs to take an insertion back exactly.
type jsonUndo struct {
	// AddedContainer is set when the container member (mcpServers...)
	// did not exist and the install added it.
	AddedContainer bool `json:"added_container,omitempty"`
	// EmptyExtra is the whitespace and comments that an empty object
	// held before our member went into it: restored when it is empty
	// again.
	EmptyExtra *string `json:"empty_extra,omitempty"`
}

// parseJSONC parses a settings file: "" (or only whitespace) is an empty
// object.
func parseJSONC(src []byte) (hujson.Value, *hujson.Object, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		src = []byte("{}\n")
	}
	v, err := hujson.Parse(src)
	if err != nil {
		return v, nil, fmt.Errorf("not valid JSON: %s", strings.TrimPrefix(err.Error(), "hujson: "))
	}
	root, ok := v.Value.(*hujson.Object)
	if !ok {
		return v, nil, fmt.Errorf("not a JSON object at the top")
	}
	return v, root, nil
}

// decodeJSONC decodes a settings file that may hold comments and
// trailing commas into plain Go values.
func decodeJSONC(src []byte) (map[string]any, error) {
	v, _, err := parseJSONC(src)
	if err != nil {
		return nil, err
	}
	doc := map[string]any{}
	if err := decodeValue(v, &doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return doc, nil
}

// decodeValue decodes a parsed value into dst, as encoding/json does
// plain JSON: comments and trailing commas dropped from a copy first.
func decodeValue(v hujson.Value, dst any) error {
	v = v.Clone()
	v.Standardize()
	return json.Unmarshal(v.Pack(), dst)
}

// memberIndex is the index of the member called name, or -1.
func memberIndex(obj *hujson.Object, name string) int {
	for i, m := range obj.Members {
		if lit, ok := m.Name.Value.(hujson.Literal); ok && lit.String() == name {
			return i
		}
	}
	return -1
}

// layout is how an object writes its members: each on its own line at
// indent (multiline), or all on one line.
type layout struct {
	multiline bool
	indent    string // the members' indentation
	unit      string // one level of indentation in this file
}

// trailingIndent is what follows the last newline of extra, if extra is
// only whitespace and holds a newline.
func trailingIndent(extra []byte) (string, bool) {
	if len(bytes.TrimSpace(extra)) != 0 {
		if i := bytes.LastIndexByte(extra, '\n'); i >= 0 && len(bytes.TrimLeft(extra[i+1:], " \t")) == 0 {
			return string(extra[i+1:]), true
		}
		return "", false
	}
	i := bytes.LastIndexByte(extra, '\n')
	if i < 0 {
		return "", false
	}
	return string(extra[i+1:]), true
}

// indentUnit guesses the file's indentation step from the top object's
// first member: two spaces when it tells nothing.
func indentUnit(root *hujson.Object) string {
	if len(root.Members) > 0 {
		if ind, ok := trailingIndent(root.Members[0].Name.BeforeExtra); ok && ind != "" {
			return ind
		}
	}
	return "  "
}

// layoutOf tells how obj, whose own member line is indented by parent,
// lays out its members.
func layoutOf(obj *hujson.Object, parent layout) layout {
	for _, m := range obj.Members {
		if ind, ok := trailingIndent(m.Name.BeforeExtra); ok {
			return layout{multiline: true, indent: ind, unit: parent.unit}
		}
	}
	if len(obj.Members) > 0 {
		return layout{unit: parent.unit}
	}
	if !parent.multiline {
		return layout{unit: parent.unit}
	}
	return layout{multiline: true, indent: parent.indent + parent.unit, unit: parent.unit}
}

// encodeValue is v as JSON text, with <, > and & as they are.
func encodeValue(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // Only strings, bools, numbers and string slices.
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if _, ok := v.([]string); ok {
		out = bytes.ReplaceAll(out, []byte(`","`), []byte(`", "`))
	}
	return out
}

// objectText writes fields as a JSON object laid out as l says: the
// members at l.indent, the closing brace one level out.
func objectText(fields []field, l layout) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if l.multiline {
			b.WriteString("\n" + l.indent)
		} else if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(encodeValue(f.Name))
		b.WriteString(": ")
		b.Write(encodeValue(f.Value))
	}
	if l.multiline {
		b.WriteString("\n" + strings.TrimSuffix(l.indent, l.unit))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// mustParse parses text this file generated.
func mustParse(text []byte) hujson.Value {
	v, err := hujson.Parse(text)
	if err != nil {
		panic(fmt.Sprintf("generated JSON does not parse: %v: %s", err, text)) // A bug here, not bad input.
	}
	return v
}

// appendMember adds name: value as the last member of obj, written the
// way obj's members are (l), and returns what undoes it.
func appendMember(obj *hujson.Object, name string, value []byte, l layout) *string {
	var undo *string
	m := hujson.ObjectMember{
		Name:  hujson.Value{Value: hujson.String(name)},
		Value: hujson.Value{BeforeExtra: hujson.Extra(" "), Value: mustParse(value).Value},
	}
	if l.multiline {
		m.Name.BeforeExtra = hujson.Extra("\n" + l.indent)
		// A comment after the last member (`"x": 1, // note`) stays
		// on its line, before ours.
		if nl := bytes.LastIndexByte(obj.AfterExtra, '\n'); len(obj.Members) > 0 && nl > 0 {
			m.Name.BeforeExtra = append(append(hujson.Extra(nil), obj.AfterExtra[:nl]...), m.Name.BeforeExtra...)
			obj.AfterExtra = append(hujson.Extra(nil), obj.AfterExtra[nl:]...)
		}
	} else if len(obj.Members) > 0 {
		m.Name.BeforeExtra = hujson.Extra(" ")
	}
	if n := len(obj.Members); n > 0 {
		last := obj.Members[n-1]
		if ws := last.Value.BeforeExtra; len(bytes.TrimSpace(ws)) == 0 {
			m.Value.BeforeExtra = append(hujson.Extra(nil), ws...)
		}
		if ws := last.Name.AfterExtra; len(bytes.TrimSpace(ws)) == 0 {
			m.Name.AfterExtra = append(hujson.Extra(nil), ws...)
		}
		if last.Value.AfterExtra != nil {
			m.Value.AfterExtra = hujson.Extra{} // Keep the trailing comma.
		}
	} else {
		old := string(obj.AfterExtra)
		undo = &old
		if l.multiline {
			if len(bytes.TrimSpace(obj.AfterExtra)) == 0 {
				obj.AfterExtra = hujson.Extra("\n" + strings.TrimSuffix(l.indent, l.unit))
			}
		} else if len(bytes.TrimSpace(obj.AfterExtra)) == 0 {
			obj.AfterExtra = nil
		}
	}
	obj.Members = append(obj.Members, m)
	return undo
}

// setJSONMember puts our entry at container.name in src. state is
// "registered" (added), "updated" (our fields changed, others kept) or
// "already".
func setJSONMember(src []byte, container, name string, entry []field) (next []byte, undo jsonUndo, state string, err error) {
	v, root, err := parseJSONC(src)
	if err != nil {
		return nil, undo, "", err
	}
	rootLayout := layoutOf(root, layout{multiline: true, unit: indentUnit(root)})
	ci := memberIndex(root, container)
	if ci < 0 {
		inner := layout{multiline: rootLayout.multiline, indent: rootLayout.indent + rootLayout.unit + rootLayout.unit, unit: rootLayout.unit}
		servers := layout{multiline: rootLayout.multiline, indent: rootLayout.indent + rootLayout.unit, unit: rootLayout.unit}
		text := []byte("{")
		if servers.multiline {
			text = append(text, "\n"+servers.indent...)
		}
		text = append(append(append(text, encodeValue(name)...), ": "...), objectText(entry, inner)...)
		if servers.multiline {
			text = append(text, "\n"+rootLayout.indent...)
		}
		text = append(text, '}')
		undo.EmptyExtra = appendMember(root, container, text, rootLayout)
		undo.AddedContainer = true
		return v.Pack(), undo, "registered", nil
	}
	cv := &root.Members[ci].Value
	obj, ok := cv.Value.(*hujson.Object)
	if !ok {
		return nil, undo, "", fmt.Errorf("%q is not an object", container)
	}
	memberLine := layout{multiline: rootLayout.multiline, indent: rootLayout.indent, unit: rootLayout.unit}
	if ind, ok := trailingIndent(root.Members[ci].Name.BeforeExtra); ok {
		memberLine = layout{multiline: true, indent: ind, unit: rootLayout.unit}
	}
	cl := layoutOf(obj, memberLine)
	i := memberIndex(obj, name)
	if i < 0 {
		inner := layout{multiline: cl.multiline, indent: cl.indent + cl.unit, unit: cl.unit}
		undo.EmptyExtra = appendMember(obj, name, objectText(entry, inner), cl)
		return v.Pack(), undo, "registered", nil
	}
	ours, ok := obj.Members[i].Value.Value.(*hujson.Object)
	if !ok {
		return nil, undo, "", fmt.Errorf("%q in %q is not an object", name, container)
	}
	ol := layoutOf(ours, layout{multiline: cl.multiline, indent: cl.indent, unit: cl.unit})
	changed := false
	for _, f := range entry {
		want := encodeValue(f.Value)
		j := memberIndex(ours, f.Name)
		if j >= 0 {
			if sameJSON(ours.Members[j].Value.Value, want) {
				continue
			}
			ours.Members[j].Value.Value = mustParse(want).Value
		} else {
			appendMember(ours, f.Name, want, ol)
		}
		changed = true
	}
	if !changed {
		return src, undo, "already", nil
	}
	return v.Pack(), undo, "updated", nil
}

// sameJSON reports whether a value in the file means the same as want.
func sameJSON(have hujson.ValueTrimmed, want []byte) bool {
	var a, b any
	if decodeValue(hujson.Value{Value: have}, &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// removeJSONMember takes container.name out of src, if owned says the
// entry there is still ours, undoing what the install added around it.
// found is false when there is no entry, or one that is not ours.
func removeJSONMember(src []byte, container, name string, undo jsonUndo, owned func(map[string]any) bool) (next []byte, found bool, err error) {
	v, root, err := parseJSONC(src)
	if err != nil {
		return nil, false, err
	}
	ci := memberIndex(root, container)
	if ci < 0 {
		return src, false, nil
	}
	obj, ok := root.Members[ci].Value.Value.(*hujson.Object)
	if !ok {
		return src, false, nil
	}
	i := memberIndex(obj, name)
	if i < 0 {
		return src, false, nil
	}
	var doc map[string]any
	if err := decodeValue(obj.Members[i].Value, &doc); err != nil || !owned(doc) {
		return src, false, nil
	}
	removeMember(obj, i)
	if len(obj.Members) == 0 {
		if undo.AddedContainer {
			removeMember(root, ci)
			obj = root
		}
		if len(obj.Members) == 0 && undo.EmptyExtra != nil {
			obj.AfterExtra = hujson.Extra(*undo.EmptyExtra)
		}
	}
	return v.Pack(), true, nil
}

// removeMember removes obj's member i, keeping whether the object ends
// with a trailing comma.
func removeMember(obj *hujson.Object, i int) {
	last := i == len(obj.Members)-1
	trailing := obj.Members[i].Value.AfterExtra != nil
	if before := obj.Members[i].Name.BeforeExtra; last {
		// What appendMember took from the end of the object goes back.
		if nl := bytes.LastIndexByte(before, '\n'); nl > 0 {
			obj.AfterExtra = append(append(hujson.Extra(nil), before[:nl]...), obj.AfterExtra...)
		}
	}
	obj.Members = append(obj.Members[:i], obj.Members[i+1:]...)
	if n := len(obj.Members); last && n > 0 && trailing && obj.Members[n-1].Value.AfterExtra == nil {
		obj.Members[n-1].Value.AfterExtra = hujson.Extra{}
	}
	if n := len(obj.Members); last && n > 0 && !trailing {
		// The new last member loses its comma, not what stood before it.
		prev := &obj.Members[n-1].Value
		if prev.AfterExtra != nil {
			obj.AfterExtra = append(append(hujson.Extra(nil), prev.AfterExtra...), obj.AfterExtra...)
			prev.AfterExtra = nil
		}
	}
}
