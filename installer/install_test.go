package installer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/gocmd"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/scripts/shell"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

func TestMarkersUpsertRemove(t *testing.T) {
	t.Parallel()
	mk := blockMarkers(false)
	block := "# >>> amp-bg-tasks >>>\nexport X=1\n# <<< amp-bg-tasks <<<\n"
	tests := []struct {
		name, before, installed string
		after                   string // what removing the block leaves
	}{
		{"new file", "", block, ""},
		{"after user lines", "# mine\nalias l=ls\n", "# mine\nalias l=ls\n\n" + block, "# mine\nalias l=ls\n"},
		// The newline added here is the manifest's to take away.
		{"no final newline", "# mine", "# mine\n\n" + block, "# mine\n"},
		{"ends with a blank line", "# mine\n\n", "# mine\n\n\n" + block, "# mine\n\n"},
		{"old block replaced in place", "a\n\n# >>> amp-bg-tasks >>>\nexport X=0\n# <<< amp-bg-tasks <<<\nb\n", "a\n\n" + block + "b\n", "a\nb\n"},
		{"old block without final newline", "a\n# >>> amp-bg-tasks >>>\nold\n# <<< amp-bg-tasks <<<", "a\n" + block, "a\n"},
		{"markers with trailing spaces", "# >>> amp-bg-tasks >>>  \nold\n# <<< amp-bg-tasks <<<\t\n", block, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, replaced, addedNewline, err := mk.upsert(tt.before, "export X=1\n")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.installed {
				t.Fatalf("upsert:\n%q\nwant\n%q", got, tt.installed)
			}
			if wantReplaced := strings.Contains(tt.before, shellBegin); replaced != wantReplaced {
				t.Errorf("upsert says replaced=%v, want %v", replaced, wantReplaced)
			}
			if wantAdded := tt.before != "" && !strings.HasSuffix(tt.before, "\n") && !replaced; addedNewline != wantAdded {
				t.Errorf("upsert says addedNewline=%v, want %v", addedNewline, wantAdded)
			}
			again, replaced, addedNewline, err := mk.upsert(got, "export X=1")
			if err != nil || again != got || !replaced || addedNewline {
				t.Fatalf("second upsert changed the file or says so (replaced %v, added newline %v, err %v):\n%q", replaced, addedNewline, err, again)
			}
			removed, err := mk.remove(got)
			if err != nil {
				t.Fatal(err)
			}
			if removed != tt.after {
				t.Errorf("remove:\n%q\nwant\n%q", removed, tt.after)
			}
		})
	}
	for _, s := range []string{"# >>> amp-bg-tasks >>>\nexport X=0\n", "x\n# >>> amp-bg-tasks >>>\n"} {
		if _, _, _, err := mk.upsert(s, "y"); err == nil || !strings.Contains(err.Error(), "fix the file by hand") {
			t.Errorf("upsert of %q without end marker: %v", s, err)
		}
		if _, err := mk.remove(s); err == nil {
			t.Errorf("remove of %q without end marker: no error", s)
		}
	}
}

func TestInstallChooseShells(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "zsh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, flag, shellEnv, path string
		profiles                   []string // files made in HOME first
		want                       []string
		wantErr                    string
	}{
		{name: "nothing here", want: nil},
		{name: "login shell", shellEnv: "/usr/bin/fish", want: []string{"fish"}},
		{name: "on PATH", path: bin, want: []string{"zsh"}},
		{name: "existing profile", profiles: []string{".bashrc"}, want: []string{"bash"}},
		{name: "all three", shellEnv: "/bin/bash", path: bin, profiles: []string{".config/fish/conf.d/amp-bg-tasks.fish"}, want: []string{"bash", "zsh", "fish"}},
		{name: "flag wins", flag: "fish, bash,fish", shellEnv: "/bin/zsh", want: []string{"fish", "bash"}},
		{name: "none", flag: "none", shellEnv: "/bin/bash", want: nil},
		{name: "unknown", flag: "bash,tcsh", wantErr: `unknown shell "tcsh"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := filepath.Join(home, strings.ReplaceAll(tt.name, " ", "-"))
			for _, p := range tt.profiles {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(home, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(home, p), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"HOME": home, "SHELL": tt.shellEnv, "PATH": tt.path}
			a := &toolbox.App{Getenv: func(k string) string { return env[k] }}
			paths, err := newPaths(a, "", "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := chooseShells(a, tt.flag, paths)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("shells %q (err %v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestInstallPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		env             map[string]string
		prefix, toolbox string
		wantBin, wantTB string
		wantErr         string
	}{
		{"defaults", map[string]string{"HOME": "/h"}, "", "", "/h/.local/bin", "/h/.config/amp/tools", ""},
		{"XDG_CONFIG_HOME", map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "", "", "/h/.local/bin", "/x/amp/tools", ""},
		{"relative XDG_CONFIG_HOME ignored", map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "x"}, "", "", "/h/.local/bin", "/h/.config/amp/tools", ""},
		{"flags", map[string]string{"HOME": "/h"}, "~/opt", "tb", "/h/opt/bin", "/wd/tb", ""},
		{"absolute flags", map[string]string{"HOME": "/h"}, "/usr/local", "/tb/", "/usr/local/bin", "/tb", ""},
		{"no HOME", map[string]string{}, "", "", "", "", "HOME must be an absolute path"},
		{"backslash", map[string]string{"HOME": "/h"}, `/a\b`, "", "", "", "backslashes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &toolbox.App{Getenv: func(k string) string { return tt.env[k] }, Wd: "/wd"}
			p, err := newPaths(a, tt.prefix, tt.toolbox)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || p.bin != tt.wantBin || p.toolbox != tt.wantTB {
				t.Errorf("bin %q toolbox %q (err %v), want %q %q", p.bin, p.toolbox, err, tt.wantBin, tt.wantTB)
			}
		})
	}
}

// The profile snippets work in a real shell: they set AMP_TOOLBOX, put
// the binary folder on PATH once, and never fail the shell, with or
// without bg-reaper, even under set -e.
func TestInstallShellSnippets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "my bin's") // A space and a quote: quoting must hold.
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	prof := shell.Profile{Bin: bin, Toolbox: filepath.Join(dir, "tool box"), AmpDefault: filepath.Join(dir, "amp's tools")}
	reaper := "#!/bin/sh\necho \"reaper $*\" >> \"" + filepath.Join(dir, "reaped") + "\"\nexit 3\n"
	for _, sh := range knownShells() {
		t.Run(sh, func(t *testing.T) {
			exe, err := exec.LookPath(sh)
			if err != nil {
				t.Skipf("%s is not installed", sh)
			}
			body, err := renderSnippet(sh, prof)
			if err != nil {
				t.Fatal(err)
			}
			rc := filepath.Join(dir, "rc."+sh)
			if err := os.WriteFile(rc, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			script := map[string]string{
				"bash": `set -e; . "$RC"; . "$RC"; echo "$AMP_TOOLBOX"; echo "$PATH"`,
				"zsh":  `set -e; . "$RC"; . "$RC"; echo "$AMP_TOOLBOX"; echo "$PATH"`,
				"fish": `source $RC; source $RC; echo $AMP_TOOLBOX; string join : $PATH`,
			}[sh]
			for _, withReaper := range []bool{false, true} {
				reaperPath := filepath.Join(bin, "bg-reaper")
				if withReaper {
					if err := os.WriteFile(reaperPath, []byte(reaper), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				cmd := exec.Command(exe, "-c", script)
				if sh == "fish" {
					cmd = exec.Command(exe, "--no-config", "-i", "-c", script) // The reaper runs in interactive shells only.
				}
				cmd.Env = []string{"RC=" + rc, "PATH=/usr/bin:/bin", "HOME=" + dir}
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("reaper=%v: %v\n%s", withReaper, err, out)
				}
				// AMP_TOOLBOX unset: Amp's default folder is kept, ours added once.
				want := prof.AmpDefault + ":" + prof.Toolbox
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) != 2 || lines[0] != want || lines[1] != bin+":/usr/bin:/bin" {
					t.Errorf("reaper=%v: got %q, want AMP_TOOLBOX %q and PATH %q", withReaper, lines, want, bin+":/usr/bin:/bin")
				}
			}
			// A user's own AMP_TOOLBOX is kept, ours added once.
			cmd := exec.Command(exe, "-c", script)
			if sh == "fish" {
				cmd = exec.Command(exe, "--no-config", "-c", script)
			}
			cmd.Env = []string{"RC=" + rc, "PATH=/usr/bin:/bin", "HOME=" + dir, "AMP_TOOLBOX=/mine:/theirs"}
			if out, err := cmd.Output(); err != nil || strings.Split(string(out), "\n")[0] != "/mine:/theirs:"+prof.Toolbox {
				t.Errorf("with AMP_TOOLBOX set: %v %q", err, out)
			}
			if got := tasktest.ReadFile(t, filepath.Join(dir, "reaped")); !strings.Contains(got, "reaper --max-age 180 --quiet") {
				t.Errorf("reaper not run as expected: %q", got)
			}
			_ = os.Remove(filepath.Join(dir, "reaped")) // Best effort: the next shell's check reads it.
			_ = os.Remove(filepath.Join(bin, "bg-reaper"))
		})
	}
}

// snapshot records every file, folder and link under root, so that an
// install followed by an uninstall can be compared to nothing at all.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		owner := ""
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			owner = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			snap[rel] = "link " + owner + " " + target
			return err
		case d.IsDir():
			snap[rel] = "dir " + info.Mode().String() + " " + owner
		default:
			b, err := os.ReadFile(path)
			snap[rel] = info.Mode().String() + " " + owner + " " + string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func diffSnapshots(before, after map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if v, ok := before[k]; !ok {
			fmt.Fprintf(&b, "  added   %s\n", k)
		} else if v != after[k] {
			fmt.Fprintf(&b, "  changed %s: %.200q -> %.200q\n", k, v, after[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[k]; !ok {
			fmt.Fprintf(&b, "  removed %s\n", k)
		}
	}
	return b.String()
}

// End to end, on real files and processes: scripts/install.sh into an
// empty HOME and into one with the user's own profile and AGENTS.md, a
// second install that changes nothing, every installed tool run through
// the toolbox protocol, the shell profile sourced, and an uninstall that
// leaves HOME exactly as it was.
func TestInstallEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds bgtask")
	}
	// Built as a developer would, with Go's defaults: stamped from the
	// checkout (a pseudo-version, +dirty with local changes), which no
	// module proxy holds, so the install must not try to fetch it.
	builtDir := t.TempDir()
	built := filepath.Join(builtDir, "bgtask")
	if out, err := gocmd.Command(t, "build", "-o", builtDir+"/", "../cmd/bgtask", "../cmd/"+toolbox.LeanCommand).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		home    map[string]string // the user's files before the install
		install []string
		flags   []string
	}{
		// A binary built here runs no go command into this HOME, so an
		// empty HOME stays empty. install.sh runs go, which writes its
		// telemetry counters into the HOME it runs under unless that
		// account turned them off (Go reads the mode from a file there,
		// not from GOTELEMETRY): that case's user did, as gocmd.Off does.
		{"empty HOME", nil, []string{built, "install"}, nil},
		{"user files and every shell", map[string]string{
			".bashrc":                  "# my bashrc\nalias ll='ls -l'\n",
			".zshrc":                   "setopt autocd", // No final newline.
			".config/agents/AGENTS.md": "# My rules\n\n- Be brief.\n",
			".config/amp/tools/my":     "#!/bin/sh\n", // the user's own Amp tool
			".local/bin/other-tool":    "#!/bin/sh\n",
		}, []string{script}, []string{"--shell", "bash,zsh,fish"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			home := t.TempDir()
			for p, content := range tt.home {
				path := filepath.Join(home, p)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.install[0] == script {
				gocmd.Off(t, home)
			}
			before := snapshot(t, home)
			env := gocmd.Env(t, []string{
				"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(),
				"TASKS_DIR=" + a.Store.Dir, "BG_KILL_GRACE=1", "SHELL=/bin/bash",
			})
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
				}
				t.Logf("$ %s\n%s", strings.Join(args, " "), out)
				return string(out)
			}
			install := append(slices.Clone(tt.install), tt.flags...)
			first := run(install...)
			installed := snapshot(t, home)
			second := run(install...)
			if again := snapshot(t, home); !reflect.DeepEqual(again, installed) {
				t.Errorf("second install changed HOME:\n%s", diffSnapshots(installed, again))
			}
			for _, verb := range []string{"installed ", "linked ", "wrote ", "appended ", "updated "} {
				if !strings.Contains(first, verb) && verb != "updated " {
					t.Errorf("first install did not say %q", verb)
				}
				if strings.Contains(second, verb) {
					t.Errorf("second install says %q: it should have found everything in place", verb)
				}
			}
			bin := filepath.Join(home, ".local", "bin", "bgtask")
			third := run(append([]string{bin, "install"}, tt.flags...)...)
			if !strings.Contains(third, "already this binary") {
				t.Errorf("the installed binary reinstalling itself:\n%s", third)
			}
			for _, f := range []string{".bashrc", ".zshrc", ".config/fish/conf.d/amp-bg-tasks.fish", ".config/agents/AGENTS.md"} {
				content, err := os.ReadFile(filepath.Join(home, f))
				if os.IsNotExist(err) && tt.flags == nil && f != ".bashrc" && f != ".config/agents/AGENTS.md" {
					continue // Shells this machine does not have.
				}
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(string(content), "amp-bg-tasks >>>"); n != 1 {
					t.Errorf("%s has %d blocks, want 1", f, n)
				}
				if user := tt.home[f]; !strings.HasPrefix(string(content), user) {
					t.Errorf("%s lost the user's content %q", f, user)
				}
			}

			// install.sh builds for this machine only, and names the
			// checkout the other platforms are built from on first use.
			if tt.install[0] == script {
				dist := filepath.Join(home, ".local", "lib", "amp-bg-tasks", "dist")
				var names []string
				ents, _ := os.ReadDir(dist)
				for _, e := range ents {
					names = append(names, e.Name())
				}
				want := []string{"SHA256SUMS", remote.SourceFile, remote.DistName(remote.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})}
				slices.Sort(want)
				if !slices.Equal(names, want) {
					t.Errorf("dist folder holds %q, want %q", names, want)
				}
				if src, ok, err := remote.ReadSource(dist); err != nil || !ok || src.Dir != filepath.Dir(filepath.Dir(script)) {
					t.Errorf("build source %+v %v %v, want the checkout %s", src, ok, err, filepath.Dir(filepath.Dir(script)))
				}
			}

			// The hot path runs the lean build.
			for _, name := range []string{".config/amp/tools/bg-run", ".local/bin/bg-reaper"} {
				if target, err := filepath.EvalSymlinks(filepath.Join(home, name)); err != nil || filepath.Base(target) != toolbox.LeanCommand {
					t.Errorf("%s runs %q (%v), want %s", name, target, err, toolbox.LeanCommand)
				}
			}
			checkToolbox(t, a, filepath.Join(home, ".config", "amp", "tools"), env)

			// The profile, sourced by a real shell, gives what Amp needs.
			// The tools are in Amp's own folder: AMP_TOOLBOX stays unset,
			// so Amp keeps finding the user's tools there too.
			for _, rc := range []string{".bashrc", ".profile"} {
				out := run("bash", "--norc", "--noprofile", "-c", `. "$HOME/`+rc+`"; echo "tb=${AMP_TOOLBOX-unset}"; command -v bg-reaper; bg-reaper --dry-run`)
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) < 2 || lines[0] != "tb=unset" || lines[1] != filepath.Join(home, ".local", "bin", "bg-reaper") {
					t.Errorf("after sourcing %s: %q", rc, lines)
				}
				// Completion works without the bash-completion package
				// (nothing here loads it): the block loads the script.
				if out := run("bash", "--norc", "--noprofile", "-c", `. "$HOME/`+rc+`" >/dev/null; complete -p bgtask`); !strings.Contains(out, "complete -F _bgtask bgtask") {
					t.Errorf("after sourcing %s, complete -p bgtask: %q", rc, out)
				}
				// With bash-completion, which loads it from its own folder
				// on first use, the block leaves it to it.
				if out := run("bash", "--norc", "--noprofile", "-c", `_completion_loader() { :; }; . "$HOME/`+rc+`" >/dev/null; complete -p bgtask || echo none`); !strings.Contains(out, "none") {
					t.Errorf("with bash-completion's loader defined, the block loaded completion itself: %q", out)
				}
			}
			if _, err := os.Stat(filepath.Join(home, ".config", "agents", "skills", "background-tasks", "SKILL.md")); err != nil {
				t.Errorf("skill not installed: %v", err)
			}

			run(bin, "install", "--uninstall")
			if after := snapshot(t, home); !reflect.DeepEqual(after, before) {
				t.Errorf("uninstall did not restore HOME:\n%s", diffSnapshots(before, after))
			}
			if out := run(append(slices.Clone(tt.install), "--uninstall")...); !strings.Contains(out, "Nothing to uninstall") {
				t.Errorf("second uninstall: %s", out)
			}
			if after := snapshot(t, home); !reflect.DeepEqual(after, before) {
				t.Errorf("second uninstall changed HOME:\n%s", diffSnapshots(before, after))
			}
		})
	}
}

// checkToolbox runs every installed entry through the toolbox protocol:
// describe gives what this package describes, and execute runs a task
// through bg-run, bg-status, bg-output and bg-stop.
func checkToolbox(t *testing.T, a *toolbox.App, dir string, env []string) {
	t.Helper()
	protocol := func(tool *toolbox.Tool, action, input string) (map[string]any, error) {
		cmd := exec.Command(filepath.Join(dir, tool.Command()))
		cmd.Env = append(slices.Clone(env), "TOOLBOX_ACTION="+action)
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.Output()
		var res map[string]any
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			t.Fatalf("%s %s: not one JSON object (%v, exit %v): %s", tool.Command(), action, jerr, err, out)
		}
		if err != nil {
			return res, fmt.Errorf("%s %s: %v: %v", tool.Command(), action, err, res["error"])
		}
		return res, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range toolbox.Tools() {
		if !slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return e.Name() == tool.Command() }) {
			t.Errorf("%s not installed in %s", tool.Command(), dir)
			continue
		}
		got, err := protocol(tool, "describe", "")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		b := *a
		b.Stdout = &buf
		b.ServeToolbox(t.Context(), tool, "describe")
		var want map[string]any
		if err := json.Unmarshal(buf.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("installed %s describes itself as\n%v\nwant\n%v", tool.Command(), got, want)
		}
	}

	execute := func(tool *toolbox.Tool, input string) map[string]any {
		t.Helper()
		res, err := protocol(tool, "execute", input)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	runRes := execute(toolbox.ToolByCommand("bg-run"), jsonText(map[string]any{"command": tasktest.DevServerCommand, "label": "web", "timeout": 5}))
	id, _ := runRes["task_id"].(string)
	if id == "" {
		t.Fatalf("bg-run: %v", runRes)
	}
	if st := execute(toolbox.ToolByCommand("bg-status"), `{}`); !strings.Contains(jsonText(st), id) {
		t.Errorf("bg-status does not list %s: %v", id, st)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := execute(toolbox.ToolByCommand("bg-output"), `{"task_id":"`+id+`","filter":"error","since":false}`)
		if s, _ := out["stdout"].(string); strings.Contains(s, "Cannot find module") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bg-output never showed the error line: %v", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if stop := execute(toolbox.ToolByCommand("bg-stop"), `{"task_id":"`+id+`"}`); stop["status"] != "killed" {
		t.Errorf("bg-stop: %v", stop)
	}
	if res, err := protocol(toolbox.ToolByCommand("bg-output"), "execute", `{"task_id":"nope"}`); err == nil || !strings.Contains(fmt.Sprint(res["error"]), "task_id") {
		t.Errorf("bad input: %v, %v; want {\"error\"} and exit 1", res, err)
	}
}

// The record is on disk before the install asks Amp what it is (a Node
// program that may take long): an install stopped there (Ctrl-C) can
// still be undone.
func TestInstallRecordsBeforeLongSteps(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	bin := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(bin, "amp")); err != nil {
		t.Fatal(err)
	}
	probeCopy := filepath.Join(t.TempDir(), "record")
	a := newApp(t, "HOME="+home, "XDG_CONFIG_HOME=", "PATH="+bin, "PROBE_COPY="+probeCopy, helpers.EnvFor("amp-at-probe"))
	if out, code := runInstall(t, a, "--shell", "none", "--agents", "amp"); code != toolbox.ExitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	record := tasktest.ReadFile(t, probeCopy)
	if installed := filepath.Join(home, ".local", "bin", "bgtask"); !strings.Contains(record, jsonText(installed)) {
		t.Errorf("when Amp was asked, the install record did not list %s yet: %s", installed, record)
	}
}
