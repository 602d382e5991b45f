#!/usr/bin/env bash
# The figures of issue 16 (items 1-6) for one bgtask binary: what
# `bgtask install` + `bgtask install --uninstall` do to files that belong to
# the user and their agents. Run it with an old build and a new one to
# compare:
#
#   go build -o /tmp/bgtask ./cmd/bgtask && scripts/installer-roundtrip.sh /tmp/bgtask
#
# Prints, per file: size before, size after the round trip, changed lines,
# \u003c/\u003e/\u0026 escapes; then the small cases (`{}`, a truncated
# file, a read-only file, a hard-linked file). Needs bash, awk, diff.
set -uo pipefail
bin=${1:?usage: installer-roundtrip.sh BGTASK}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export HOME=$w/home XDG_CONFIG_HOME= TASKS_DIR=$w/tasks PATH=/usr/bin:/bin

# A ~900 KB ~/.claude.json: unsorted keys, HTML characters, 1500 projects.
claude() {
	awk 'BEGIN {
		printf "{\n  \"numStartups\": 412,\n  \"installMethod\": \"npm\",\n  \"projects\": {"
		for (i = 1500; i > 0; i--) {
			printf "%s\n    \"/home/u/src/proj-%04d\": {\n      \"allowedTools\": [],\n      \"history\": [", (i == 1500 ? "" : ","), i
			for (j = 0; j < 3; j++)
				printf "%s\n        {\n          \"display\": \"fix <div> & <span> -> a && b > c %d\",\n          \"pastedContents\": {}\n        }", (j ? "," : ""), j
			printf "\n      ],\n      \"zeta\": 1,\n      \"alpha\": \"x<y>&z\",\n      \"hasTrustDialogAccepted\": true\n    }"
		}
		printf "\n  },\n  \"oauthAccount\": {\n    \"z\": 1,\n    \"a\": 2\n  }\n}\n"
	}'
}
fresh() { rm -rf "$HOME" && mkdir -p "$HOME/.cursor" "$HOME/.config/amp" "$HOME/.codex"; }

fresh
claude >"$HOME/.claude.json"
printf '{\n    "mcpServers": {\n        "other": {\n            "command": "x"\n        }\n    }\n}\n' >"$HOME/.cursor/mcp.json"
printf '{\n  // my settings\n  "amp.notifications.enabled": false,\n}\n' >"$HOME/.config/amp/settings.json"
printf '# codex\nmodel = "o3" # best\n' >"$HOME/.codex/config.toml"
cp -a "$HOME" "$w/before"
"$bin" install --shell none --agents claude,cursor,codex >"$w/log" 2>&1
echo "install --agents claude,cursor,codex: exit $?"
"$bin" install --shell none --agents amp >"$w/log" 2>&1
echo "install --agents amp (settings.json with a comment): exit $? $(grep -o 'not JSON[^;]*' "$w/log")"
"$bin" install --uninstall >/dev/null 2>&1
echo "uninstall: exit $?"
for f in .claude.json .cursor/mcp.json .config/amp/settings.json .codex/config.toml; do
	printf '%-26s before %8d bytes, after %8d bytes, %6d lines differ, %5d escapes\n' "$f" \
		"$(wc -c <"$w/before/$f")" "$(wc -c <"$HOME/$f")" \
		"$(diff "$w/before/$f" "$HOME/$f" | grep -c '^[<>]')" "$(grep -o '\\u00[23][6ce]' "$HOME/$f" | wc -l)"
done
for content in '{}' '{"amp.mcpServers": {}}'; do
	fresh
	printf '%s\n' "$content" >"$HOME/.config/amp/settings.json"
	"$bin" install --shell none --agents amp >/dev/null 2>&1
	"$bin" install --uninstall >/dev/null 2>&1
	echo "Amp settings.json '$content' after the round trip: $(wc -c <"$HOME/.config/amp/settings.json") bytes"
done
fresh
claude | head -c 1000 >"$HOME/.claude.json"
"$bin" install --shell none --agents claude,cursor >"$w/log" 2>&1
echo "truncated .claude.json: exit $?, Cursor registered anyway: $(grep -q bg-tasks "$HOME/.cursor/mcp.json" 2>/dev/null && echo yes || echo no)"
fresh
echo '{}' >"$HOME/.cursor/mcp.json" && chmod 0444 "$HOME/.cursor/mcp.json"
"$bin" install --shell none --agents cursor >/dev/null 2>&1
echo "read-only (0444) mcp.json: exit $?, now $(wc -c <"$HOME/.cursor/mcp.json") bytes"
fresh
echo '{}' >"$w/shared.json" && ln -f "$w/shared.json" "$HOME/.cursor/mcp.json"
"$bin" install --shell none --agents cursor >/dev/null 2>&1
echo "hard-linked mcp.json: exit $?, links now $(stat -c %h "$HOME/.cursor/mcp.json")"
if [ "$(id -u)" = 0 ]; then
	fresh
	echo '{"numStartups": 1}' >"$HOME/.claude.json" && chmod 0644 "$HOME/.claude.json"
	printf '# mine\n' >"$HOME/.bashrc"
	chown -R 4242:4242 "$HOME"
	"$bin" install --shell bash --agents claude,codex >/dev/null 2>&1
	echo "as root on a home owned by 4242: .claude.json $(stat -c '%u:%g %a' "$HOME/.claude.json"), .bashrc $(stat -c '%u:%g' "$HOME/.bashrc"), new .codex/config.toml $(stat -c '%u:%g' "$HOME/.codex/config.toml"), root-owned files under HOME: $(find "$HOME" -uid 0 | wc -l)"
fi
