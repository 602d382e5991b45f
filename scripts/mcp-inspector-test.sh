#!/usr/bin/env bash
# Drives `bgtask mcp` with an MCP client nobody here wrote: the MCP
# Inspector's CLI mode (npm package @modelcontextprotocol/inspector). It
# lists the tools, then starts a dev-server-like task with bg_run, reads its
# errors with bg_output, stops it with bg_stop, and checks that a bad call
# is a tool error (isError), not a protocol failure. Each step is a separate
# inspector run, hence a separate server process: tasks outlive them, as
# they outlive an agent's tool calls. The tools' schemas must pass the
# inspector's "Schema portability" check (2.12 and later) with no warning:
# a list-valued `type` or a schema that constrains nothing is refused by
# clients that take a single-type subset (Gemini's function declarations).
#
# Needs Go, Node and npm (the registry, once, for the pinned inspector).
# Without npm it skips, saying so, and exits 0.
#
#   INSPECTOR_VERSION  the inspector to use (default 2.12.0, the first with the
#                      portability check; its package asks for Node 22, but its
#                      --cli mode runs these steps on Node 20)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/clients.sh"
version=${INSPECTOR_VERSION:-2.12.0}
need_node mcp-inspector-test "run @modelcontextprotocol/inspector"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-inspector.XXXXXX")
bin=$work/bgtask
export TASKS_DIR=$work/tasks BG_NOTIFY=never BG_KILL_GRACE=1
cleanup() {
	# End whatever a failed step left running, with the product's own
	# reaper: every task in this private state folder is older than 0 min.
	if [ -x "$bin" ]; then
		"$bin" reap --max-age 0 --quiet || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== build bgtask"
build_bgtask "$work"

echo "== install @modelcontextprotocol/inspector@$version"
npm_fetch "$work/inspector" "@modelcontextprotocol/inspector@$version"
inspector=$work/inspector/node_modules/.bin/mcp-inspector

# inspect METHOD ARGS...: one inspector run against `bgtask mcp`; its JSON
# answer on stdout, its chatter (deprecation notices) and the server's log
# in $work/stderr. A tool error (isError) is exit status 5 from 2.x on:
# accepted when $tool_error is 1.
tool_error=0
inspect() {
	local method=$1 status=0
	shift
	"$inspector" --cli "$bin" mcp --method "$method" "$@" 2>"$work/stderr" || status=$?
	if [ "$status" -ne 0 ] && ! { [ "$tool_error" = 1 ] && [ "$status" -eq 5 ]; }; then
		cat "$work/stderr" >&2
		echo "FAIL: inspector $method $* (exit $status)" >&2
		exit 1
	fi
}

# check JSON JS-EXPR: evaluate a JavaScript expression with `r` bound to the
# JSON on stdin and `t` to the JSON object in r's first text content (if
# any); print its value, fail if it is falsy.
check() {
	node -e '
		const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
		let t;
		try { t = JSON.parse(r.content[0].text); } catch {}
		const v = eval(process.argv[1]);
		if (!v) { console.error("FAIL: " + process.argv[1] + "\n" + JSON.stringify(r, null, 2)); process.exit(1); }
		if (v !== true) console.log(v);
	' "$1"
}

echo "== tools/list"
list=$(inspect tools/list)
echo "$list" | check 'r.tools.map(x => x.name).sort().join(",") === "bg_output,bg_run,bg_send,bg_status,bg_stop"'
echo "$list" | check 'r.tools.every(x => x.inputSchema.type === "object" && x.description)'
echo "$list" | check 'r.tools.find(x => x.name === "bg_output").inputSchema.properties.max_line_len.default === 150'
# bg_run takes a command or a project's service: neither is required alone.
echo "$list" | check '(s => s.properties.command && s.properties.service && !(s.required || []).includes("command"))(r.tools.find(x => x.name === "bg_run").inputSchema)'
echo "   bg_output, bg_run, bg_send, bg_status, bg_stop"

echo "== schema portability (--strict: every finding in full)"
inspect tools/list --strict >/dev/null
if grep -Eq '^(Warning|Error):|Schema portability|schema portability' "$work/stderr"; then
	cat "$work/stderr" >&2
	echo "FAIL: the inspector reports unportable tool schemas" >&2
	exit 1
fi
echo "   0 errors, 0 warnings"

echo "== tools/call bg_run (a dev server that logs an error)"
server='printf "%s\n" "ready on http://localhost:3000" "GET / 200 in 12ms" "HMR update src/App.tsx" "Error: Cannot find module ./missing"; echo "warn: deprecated option" >&2; exec sleep 600'
run=$(inspect tools/call --tool-name bg_run --tool-arg "command=$server" --tool-arg label=web --tool-arg timeout=5)
echo "$run" | check '!r.isError && t.status === "running" && t.label === "web"'
echo "$run" | check 'r.structuredContent.task_id === t.task_id'
id=$(echo "$run" | check 't.task_id')
echo "   started $id"

echo "== tools/call bg_output filter=error|warn (until the error shows)"
deadline=$((SECONDS + 30))
while :; do
	out=$(inspect tools/call --tool-name bg_output --tool-arg "task_id=$id" --tool-arg "filter=error|warn" --tool-arg since=false)
	echo "$out" | check '!r.isError' >/dev/null
	if echo "$out" | check '(t.stdout || "").includes("Cannot find module")' >/dev/null 2>&1; then
		break
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "FAIL: bg_output never showed the error line: $out" >&2
		exit 1
	fi
	sleep 0.2
done
echo "$out" | check '!t.stdout.includes("GET /") && !t.stdout.includes("HMR")'
echo "$out" | check '"   stdout: " + t.stdout + "\n   stderr: " + t.stderr'

echo "== tools/call bg_status"
inspect tools/call --tool-name bg_status | check 't.tasks.some(x => x.task_id === "'"$id"'" && x.status === "running")'

echo "== tools/call bg_stop"
inspect tools/call --tool-name bg_stop --tool-arg "task_id=$id" | check 't.status === "killed" && "   " + t.message'

echo "== a bad call is a tool error"
tool_error=1
inspect tools/call --tool-name bg_output --tool-arg task_id=nope | check 'r.isError === true && r.content[0].text.includes("task_id") && "   " + r.content[0].text'

echo "mcp-inspector-test passed (@modelcontextprotocol/inspector@$version)"
