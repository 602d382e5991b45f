#!/usr/bin/env bash
# The install agent users run, proven on this machine with no Go: in a
# fresh HOME whose PATH has Node and npm but no Go, the npm packages that
# scripts/package.sh built are served by a local registry
# (scripts/npm-registry.js, so nothing else on the network is used), and
# with an empty npm cache:
#
#   npx -y amp-bg-tasks install     installs bgtask, the lean bgtask-tool and
#                                   the dist folder into ~/.local, registers Amp
#   bgtask --version                names the packaged version and commit
#   bgtask doctor                   passes
#   amp tools list / amp mcp doctor the real current Amp CLI lists our tools and
#                                   reports the server connected, after npm's
#                                   cache is gone (the registration points at
#                                   ~/.local/bin/bgtask, not into the cache)
#   npx -y amp-bg-tasks mcp         works as an MCP server command in Amp too
#
# It prints the size of each package and the time of the cold npx install.
#
#   scripts/npm-install-test.sh [OUT]   OUT: scripts/package.sh's folder (default: builds one)
#   AMP_CLI_VERSION                      default 0.0.1790142911-g7618fb
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/clients.sh"
amp_version=${AMP_CLI_VERSION:-0.0.1790142911-g7618fb}
need_node npm-install-test "install the packages"
need_linux_x64 npm-install-test "@ampcode/cli-linux-x64, the Amp CLI it checks with,"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-npmtest.XXXXXX")
registry_pid=
cleanup() {
	if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

out=${1:-}
if [ -z "$out" ]; then
	out=$work/out
	"$repo/scripts/package.sh" "$out"
fi
out=$(cd "$out" && pwd)
main_tgz=$(ls "$out"/npm/amp-bg-tasks-[0-9]*.tgz)
version=$(basename "$main_tgz" .tgz)
version=${version#amp-bg-tasks-}
echo "== packages of amp-bg-tasks $version"
(cd "$out/npm" && ls -l ./*.tgz | awk '{printf "   %6.1f MB  %s\n", $5 / 1048576, substr($9, 3)}')

echo "== the real Amp CLI (@ampcode/cli-linux-x64@$amp_version, from the npm registry)"
npm_fetch "$work/amp" "@ampcode/cli-linux-x64@$amp_version"

# PATH: node, npm, npx and amp, and the system's folders, where there is no go.
mkdir -p "$work/path" "$work/home" "$work/project"
for cmd in node npm npx; do
	ln -s "$(command -v "$cmd")" "$work/path/$cmd"
done
ln -s "$work/amp/node_modules/@ampcode/cli-linux-x64/amp" "$work/path/amp"
node "$repo/scripts/npm-registry.js" "$out/npm" "$work/port" &
registry_pid=$!
for _ in $(seq 100); do
	[ -s "$work/port" ] && break
	sleep 0.1
done
[ -s "$work/port" ] || fail "the local registry did not start"

export HOME=$work/home PATH=$work/path:/usr/local/bin:/usr/bin:/bin
export npm_config_registry=http://127.0.0.1:$(cat "$work/port")/ npm_config_cache=$work/npm-cache
export npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false
export AMP_API_KEY=sgamp_placeholder TASKS_DIR=$work/tasks SHELL=/bin/bash
unset GOROOT GOPATH GOBIN BG_DIST_DIR
if command -v go >/dev/null 2>&1; then
	fail "go is on the test's PATH ($(command -v go)): the test must run without Go"
fi
cd "$work/project"

echo "== npx -y amp-bg-tasks install (cold: empty npm cache, no Go)"
start=$(date +%s.%N)
npx -y amp-bg-tasks install --shell bash >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	fail "npx -y amp-bg-tasks install"
}
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "   done in $elapsed s"
bin=$HOME/.local/bin
grep -q "registered .*settings.json (Amp: MCP server bg-tasks -> $bin/bgtask mcp" "$work/install.log" || fail "the installer did not register $bin/bgtask with Amp:
$(cat "$work/install.log")"
export PATH=$bin:$PATH # What the profile block does in a new shell.

echo "== bgtask --version"
v=$(bgtask --version)
grep -Eq "^bgtask $version \(commit [0-9a-f]{12}\)$" <<<"$v" || fail "bgtask --version says \"$v\", want the version $version and its commit"
echo "   $v"
lv=$(bgtask-tool --version)
[ "$lv" = "$v" ] || fail "bgtask-tool --version says \"$lv\", bgtask \"$v\""
[ -f "$bin/bgtask-tool" ] && [ ! -L "$bin/bgtask-tool" ] || fail "$bin/bgtask-tool is not the lean build"
if cmp -s "$bin/bgtask" "$bin/bgtask-tool"; then
	fail "bgtask-tool is the full bgtask, not the lean build"
fi
(cd "$HOME/.local/lib/amp-bg-tasks/dist" && sha256sum -c --quiet SHA256SUMS && [ "$(wc -l <SHA256SUMS)" = 4 ]) || fail "the dist folder is incomplete"
echo "   bgtask-tool is the lean build; ~/.local/lib/amp-bg-tasks/dist holds 4 builds, checksums good"

echo "== bgtask doctor"
bgtask doctor >"$work/doctor.log" 2>&1 || {
	cat "$work/doctor.log" >&2
	fail "bgtask doctor"
}
echo "   passed ($(grep -c . "$work/doctor.log") checks)"

echo "== npm's cache cleared: Amp still runs our server from ~/.local/bin"
rm -rf "$npm_config_cache" "$HOME/.npm"
list=$(amp tools list </dev/null 2>&1) || fail "amp tools list: $list"
for tool in bg_run bg_status bg_output bg_stop bg_send; do
	grep -q "mcp__bg_tasks__$tool " <<<"$list" || fail "mcp__bg_tasks__$tool missing:
$list"
done
echo "   amp tools list: mcp__bg_tasks__bg_run, _bg_status, _bg_output, _bg_stop, _bg_send"
doctor=$(amp mcp doctor </dev/null 2>&1) || fail "amp mcp doctor: $doctor"
grep -q "bg-tasks (user settings): connected (5 tools" <<<"$doctor" || fail "not connected:
$doctor"
echo "   amp mcp doctor: $(grep 'bg-tasks' <<<"$doctor" | head -1 | sed 's/^[^a-z]*//')"

echo "== npx -y amp-bg-tasks mcp as a server configured by hand"
amp mcp add bg-npx -- npx -y amp-bg-tasks mcp >/dev/null 2>&1 || fail "amp mcp add bg-npx"
doctor=$(amp mcp doctor </dev/null 2>&1) || fail "amp mcp doctor: $doctor"
grep -q "bg-npx (user settings): connected (5 tools" <<<"$doctor" || fail "npx -y amp-bg-tasks mcp not connected:
$doctor"
echo "   amp mcp doctor: $(grep 'bg-npx' <<<"$doctor" | head -1 | sed 's/^[^a-z]*//')"

echo "npm-install-test passed: amp-bg-tasks $version, cold npx install ${elapsed} s"
