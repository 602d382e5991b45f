#!/usr/bin/env bash
# Agents registered by our installer, checked with their own CLIs from npm
# (pinned), offline, each in a private HOME:
#   - Gemini CLI (@google/gemini-cli): ~/.gemini/settings.json, mcpServers;
#     `gemini mcp list` starts each server and says "Connected".
#   - opencode (opencode-ai): ~/.config/opencode/opencode.json(c), mcp;
#     `opencode mcp list` starts each server and says "connected".
# For each: the user's settings file holds a comment (and, for opencode,
# whose JSONC allows it, a trailing comma);
# our installer runs with the agent's command on PATH and no other step;
# the agent's CLI must show bg-tasks connected; --uninstall must give the
# settings file back byte for byte, and the agent must no longer list it.
#
# Needs Go, Node and npm (the registry, once); skips without npm.
#
#   GEMINI_CLI_VERSION  default 0.61.0
#   OPENCODE_VERSION    default 1.18.33
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/clients.sh"
need_node agent-clients-test "run the agents' CLIs"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-agents.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
build_bgtask "$work"

# check NAME PACKAGE COMMAND SETTINGS CONTENT CONNECTED: installs PACKAGE,
# writes SETTINGS (relative to HOME) with the user's own CONTENT, installs
# bgtask, and expects `COMMAND mcp list` to match the regexp CONNECTED.
check() {
	local name=$1 package=$2 command=$3 settings=$4 content=$5 connected=$6
	local dir=$work/$command
	echo "== $name: install $package"
	npm_fetch "$dir/npm" "$package"
	mkdir -p "$dir/home/$(dirname "$settings")" "$dir/project"
	printf '%s\n' "$content" >"$dir/home/$settings"
	cp "$dir/home/$settings" "$dir/settings.before"
	# Gemini shows servers as Disabled in a folder the user has not
	# trusted: trust the project folder, as the user would when asked.
	mkdir -p "$dir/home/.gemini"
	printf '{"%s": "TRUST_FOLDER"}\n' "$dir/project" >"$dir/home/.gemini/trustedFolders.json"
	(
		export HOME=$dir/home XDG_CONFIG_HOME= PATH=$dir/npm/node_modules/.bin:$PATH TASKS_DIR=$dir/tasks
		cd "$dir/project"
		"$work/bgtask" install --shell none >"$dir.install.log" 2>&1 || {
			cat "$dir.install.log" >&2
			fail "bgtask install"
		}
		grep -q "registered .*$(basename "$settings") ($name: MCP server bg-tasks" "$dir.install.log" || fail "the installer did not register with $name:
$(cat "$dir.install.log")"
		list=$("$command" mcp list </dev/null 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g') || fail "$command mcp list: $list"
		grep -Eq "$connected" <<<"$list" || fail "$name: bg-tasks not connected:
$list"
		echo "   $name: $(grep -E "$connected" <<<"$list" | head -1)"
		"$HOME/.local/bin/bgtask" install --uninstall >/dev/null
		cmp "$dir/settings.before" "$HOME/$settings" || fail "$settings differs after --uninstall:
$(cat "$HOME/$settings")"
		if "$command" mcp list </dev/null 2>&1 | grep -q bg-tasks; then
			fail "$name: still listed after --uninstall"
		fi
		echo "   $name: gone after --uninstall, $settings byte-identical"
	)
}

check "Gemini CLI" "@google/gemini-cli@${GEMINI_CLI_VERSION:-0.61.0}" gemini .gemini/settings.json \
	$'{\n  // mine\n  "ui": {"theme": "GitHub"}\n}' 'bg-tasks: .*bgtask mcp .*Connected'
check opencode "opencode-ai@${OPENCODE_VERSION:-1.18.33}" opencode .config/opencode/opencode.jsonc \
	$'{\n  "$schema": "https://opencode.ai/config.json",\n  // mine\n  "autoupdate": false,\n}' 'bg-tasks .*connected'
echo "agent-clients-test passed"
