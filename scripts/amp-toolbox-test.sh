#!/usr/bin/env bash
# Drives our toolbox through the real Amp CLI of early 2026, the last Amp
# with toolbox support (npm @sourcegraph/amp, pinned), offline: a private
# HOME, a placeholder API key. It installs bgtask with its own installer,
# checks that `amp tools list` shows all five tools in 20 of 20 runs (Amp
# reads a tool's description on the child's exit, so a description must be
# read before we exit), then plays a session through `amp tools use`, which
# runs a tool exactly as Amp does in a thread: a failing command, a
# filtered read, the status of many tasks (every line of every answer under
# Amp's 1000 columns, and still JSON), a stop, a cleanup, and a bad call
# that must come back as an error.
#
# Needs Go, Node and npm (the registry, once). Without npm it skips, saying
# so, and exits 0.
#
#   AMP_VERSION  the Amp CLI to use (default 0.0.1770734955-g93e689)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/clients.sh"
version=${AMP_VERSION:-0.0.1770734955-g93e689}
need_node amp-toolbox-test "run @sourcegraph/amp"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-amp.XXXXXX")
# Go's caches stay where they are when HOME moves.
export GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE) GOPATH=$(go env GOPATH)
export HOME=$work/home AMP_API_KEY=sgamp_placeholder TASKS_DIR=$work/tasks BG_NOTIFY=never BG_KILL_GRACE=1
export AMP_TOOLBOX=$work/tools
mkdir -p "$HOME"
bin=$HOME/.local/bin/bgtask
cleanup() {
	if [ -x "$bin" ]; then
		"$bin" reap --max-age 0 --quiet || true # End what a failed step left running.
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== install @sourcegraph/amp@$version"
npm_fetch "$work/amp" "@sourcegraph/amp@$version"
amp=$work/amp/node_modules/.bin/amp
# On PATH, as on an Amp user's machine: the installer finds it, asks it
# whether it reads the toolbox, and must not register the MCP server too.
export PATH=$work/amp/node_modules/.bin:$PATH

build_bgtask "$work"

echo "== an install that could not ask Amp registers MCP too: this Amp then lists the tools twice, and doctor says so"
PATH=${PATH#*:} "$work/bgtask" install --prefix "$HOME/.local" --toolbox "$AMP_TOOLBOX" --shell none --agents amp >"$work/install0.log" 2>&1 || {
	cat "$work/install0.log" >&2
	fail "bgtask install (amp not on PATH)"
}
list=$("$amp" tools list </dev/null 2>&1) || fail "amp tools list: $list"
n=$(grep -c "__bg_run " <<<"$list" || true)
[ "$n" = 2 ] || fail "with both registrations, bg_run is listed $n times (expected twice: the case the installer must avoid):
$list"
doctor=$(PATH=$HOME/.local/bin:$PATH "$work/bgtask" doctor 2>&1 || true)
grep -q "FAIL  Amp lists every tool twice" <<<"$doctor" || fail "doctor did not report the duplicates:
$doctor"
echo "   $(grep 'FAIL  Amp lists' <<<"$doctor")"

echo "== bgtask install (its own installer, into the private HOME, amp on PATH)"
"$work/bgtask" install --prefix "$HOME/.local" --toolbox "$AMP_TOOLBOX" --shell none >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	fail "bgtask install"
}
grep -q "^toolbox .*Amp on PATH reads its toolbox" "$work/install.log" || fail "the installer did not see that this Amp reads its toolbox:
$(cat "$work/install.log")"

echo "== amp tools list, 20 times: all five tools every time"
for i in $(seq 1 20); do
	list=$("$amp" tools list </dev/null 2>&1) || fail "amp tools list: $list"
	for tool in bg_run bg_status bg_output bg_stop bg_send; do
		n=$(grep -c "__$tool " <<<"$list" || true)
		[ "$n" = 1 ] && grep -q "tb__$tool " <<<"$list" || fail "run $i: $tool listed $n times (want once, as tb__$tool):
$list"
	done
done
echo "   20/20 runs listed tb__bg_run, tb__bg_status, tb__bg_output, tb__bg_stop, tb__bg_send, each once"

# use TOOL JSON: run a tool as Amp does; prints Amp's {"output","exitCode"}.
use() {
	echo "$2" | "$amp" tools use "tb__$1" 2>"$work/stderr" | sed -e 's/\x1b\[[0-9;?<=]*[a-zA-Z]//g' || {
		cat "$work/stderr" >&2
		fail "amp tools use tb__$1"
	}
}

# check JS RESULT: evaluates JS with r = our answer (the tool's output, as
# JSON) and a = Amp's wrapper; fails unless it is true, or unless every
# physical line of the answer is under 1000 characters.
check() {
	node -e '
		const [js, raw] = [process.argv[1], require("fs").readFileSync(0, "utf8")];
		const a = JSON.parse(raw.slice(raw.indexOf("{"), raw.lastIndexOf("}") + 1));
		const long = a.output.split("\n").filter(l => l.length >= 1000);
		if (long.length) { console.error("a line of " + long[0].length + " characters:\n" + a.output); process.exit(1); }
		const r = JSON.parse(a.output);
		if (!eval(js)) { console.error("check failed: " + js + "\n" + a.output); process.exit(1); }
		if (process.argv[2]) console.log(eval(process.argv[2]));
	' "$@"
}

echo "== a failing command, awaited"
use bg_run '{"command":"echo hello; echo \"error: boom at src/app.ts:3\" >&2; exit 3","label":"demo","wait_seconds":30}' |
	check 'r.status === "failed" && r.exit_code === 3 && JSON.stringify(r.stderr).includes("error: boom")'
id=$(use bg_status '{}' | check 'r.tasks.length === 1' 'r.tasks[0].task_id')

echo "== a filtered read"
use bg_output "{\"task_id\":\"$id\",\"filter\":\"error\",\"since\":false}" |
	check 'JSON.stringify(r.stderr).includes("src/app.ts:3")'

echo "== the status of many tasks with long labels (the longest allowed) and long commands: short lines, still JSON"
long=$(printf 'x%.0s' $(seq 1 400))
for i in 1 2 3 4 5 6; do
	use bg_run "{\"command\":\"echo '$long' >&2; exec sleep 600\",\"label\":\"task $i ${long:0:90}\"}" | check 'r.status === "running"' >/dev/null
done
use bg_status '{}' | check 'r.tasks.length === 7 && r.summary.running === 6'
use bg_output "{\"task_id\":\"$id\",\"raw\":true,\"since\":false}" | check 'Array.isArray(r.stdout) || typeof r.stdout === "string"'

echo "== stop every running task, clean up"
for tid in $(use bg_status '{}' | check 'true' 'r.tasks.filter(t => t.status === "running").map(t => t.task_id).join(" ")'); do
	use bg_stop "{\"task_id\":\"$tid\"}" | check 'r.status === "killed"'
done
use bg_stop '{"action":"cleanup"}' | check 'r.cleaned === 7'

echo "== a bad call is an error"
out=$(echo '{"task_id":"nope"}' | "$amp" tools use tb__bg_status 2>&1 || true)
grep -q 'invalid task_id' <<<"$out" || fail "bad call: $out"
echo "   $(grep -o 'task_id: invalid task_id[^"\\]*' <<<"$out" | head -1)"

echo "== bgtask install --resident: the same calls through the call server"
"$work/bgtask" install --prefix "$HOME/.local" --toolbox "$AMP_TOOLBOX" --shell none --resident >"$work/install-resident.log" 2>&1 || {
	cat "$work/install-resident.log" >&2
	fail "bgtask install --resident"
}
[ "$(readlink "$AMP_TOOLBOX/bg-run")" = "$HOME/.local/bin/bgtask-call" ] || fail "after --resident, bg-run links to $(readlink "$AMP_TOOLBOX/bg-run")"
# listening: whether a call server of the installed bgtask-tool listens
# (its abstract address is in /proc/net/unix).
listening() { grep -q '@amp-bg-tasks-call-' /proc/net/unix; }
for i in $(seq 1 20); do
	list=$("$amp" tools list </dev/null 2>&1) || fail "amp tools list: $list"
	for tool in bg_run bg_status bg_output bg_stop bg_send; do
		n=$(grep -c "tb__$tool " <<<"$list" || true)
		[ "$n" = 1 ] || fail "--resident, run $i: $tool listed $n times (want once):
$list"
	done
	[ "$i" -gt 1 ] || for _ in $(seq 100); do listening && break; sleep 0.1; done
	[ "$i" -eq 1 ] || listening || fail "no call server listens after $i listings"
done
echo "   20/20 runs listed each tool once, the descriptions coming from the call server"
use bg_run '{"command":"echo \"error: resident at src/app.ts:9\" >&2; exit 4","label":"resident","wait_seconds":30}' |
	check 'r.status === "failed" && r.exit_code === 4'
rid=$(use bg_status '{}' | check 'true' 'r.tasks.find(t => t.label === "resident").task_id')
use bg_output "{\"task_id\":\"$rid\",\"filter\":\"error\",\"since\":false}" |
	check 'JSON.stringify(r.stderr).includes("src/app.ts:9")'
out=$(echo '{"task_id":"nope"}' | "$amp" tools use tb__bg_status 2>&1 || true)
grep -q 'invalid task_id' <<<"$out" || fail "--resident, bad call: $out"
server=$(pgrep -f "$HOME/.local/bin/bgtask-tool __callserver" | head -1)
[ -n "$server" ] || fail "no call server process of the installed bgtask-tool"
echo "   bg_run, bg_status, bg_output and a bad call answered by the call server (pid $server)"
"$work/bgtask" install --prefix "$HOME/.local" --toolbox "$AMP_TOOLBOX" --shell none --uninstall >"$work/uninstall.log" 2>&1 || {
	cat "$work/uninstall.log" >&2
	fail "bgtask install --uninstall"
}
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$server" 2>/dev/null || fail "the call server (pid $server) runs on after --uninstall"
echo "   --uninstall ended the call server"

echo "amp-toolbox-test passed (@sourcegraph/amp@$version)"
