#!/usr/bin/env bash
# Today's Amp CLI (late 2026) takes custom tools only through MCP servers
# in ~/.config/amp/settings.json. This installs its Linux binary from npm
# (@ampcode/cli-linux-x64, pinned), runs our installer into a private HOME
# with amp on PATH and no other step, and checks that `amp tools list`
# shows our five tools and `amp mcp doctor` reports the server connected.
# Offline: a placeholder API key.
#
# Needs Go, Node and npm (the registry, once); skips without npm. Linux
# x64 only (the package's platform).
#
#   AMP_CLI_VERSION  default 0.0.1790142911-g7618fb
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/clients.sh"
version=${AMP_CLI_VERSION:-0.0.1790142911-g7618fb}
need_node amp-mcp-test "fetch @ampcode/cli-linux-x64"
need_linux_x64 amp-mcp-test @ampcode/cli-linux-x64

work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-ampmcp.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

echo "== install @ampcode/cli-linux-x64@$version"
npm_fetch "$work/amp" "@ampcode/cli-linux-x64@$version"
build_bgtask "$work"

mkdir -p "$work/home" "$work/path"
ln -s "$work/amp/node_modules/@ampcode/cli-linux-x64/amp" "$work/path/amp"
export HOME=$work/home PATH=$work/path:$PATH AMP_API_KEY=sgamp_placeholder TASKS_DIR=$work/tasks

echo "== bgtask install (finds amp on PATH and registers itself)"
"$work/bgtask" install --shell none >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	fail "bgtask install"
}
grep -q "registered .*settings.json (Amp: MCP server bg-tasks" "$work/install.log" || fail "the installer did not register with Amp:
$(cat "$work/install.log")"

echo "== amp tools list"
list=$(amp tools list </dev/null 2>&1) || fail "amp tools list: $list"
for tool in bg_run bg_status bg_output bg_stop bg_send; do
	grep -q "mcp__bg_tasks__$tool " <<<"$list" || fail "mcp__bg_tasks__$tool missing:
$list"
done
echo "   mcp__bg_tasks__bg_run, _bg_status, _bg_output, _bg_stop, _bg_send listed"

echo "== amp mcp doctor"
doctor=$(amp mcp doctor </dev/null 2>&1) || fail "amp mcp doctor: $doctor"
grep -q "bg-tasks (user settings): connected (5 tools" <<<"$doctor" || fail "not connected:
$doctor"
echo "   $(grep 'bg-tasks' <<<"$doctor")"

echo "== bgtask install --uninstall takes it out again"
"$work/home/.local/bin/bgtask" install --uninstall >/dev/null
if amp tools list </dev/null 2>&1 | grep -q mcp__bg_tasks__; then
	fail "still listed after --uninstall"
fi
echo "amp-mcp-test passed (@ampcode/cli-linux-x64@$version)"
