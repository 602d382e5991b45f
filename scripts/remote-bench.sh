#!/usr/bin/env bash
# Times the tools on a task of another machine (issue 18) and writes the
# "Other machines" section of BENCHMARKS.md: a real sshd on 127.0.0.1
# with a throwaway account (see internal/remotetest), each remote call as a
# ratio to `ssh host true` over the same warm master connection.
#
#   scripts/remote-bench.sh            # 20 calls per row
#   scripts/remote-bench.sh --quick    # 3 calls per row (CI: checks it runs)
#   scripts/remote-bench.sh --out FILE # write the section there instead
#
# Needs root and sshd (apt-get install openssh-server); without them the
# benchmark is skipped and nothing is written.
set -euo pipefail
cd "$(dirname "$0")/.."

n=20
out=BENCHMARKS.md
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) n=3 ;;
	--out) out="$2"; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "remote-bench.sh: unknown argument $1 (--quick, --out FILE)" >&2; exit 2 ;;
	esac
	shift
done

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
cmd="go test ./toolbox -run '^\$' -bench '^BenchmarkRemote\$' -benchtime ${n}x -count 1"
raw=$(eval "$cmd" 2>&1) || { echo "$raw" >&2; exit 1; }
if ! grep -q '^BenchmarkRemote/' <<<"$raw"; then
	echo "$raw" | grep -i skip >&2 || echo "$raw" >&2
	echo "remote-bench.sh: skipped (needs root and openssh-server)" >&2
	exit 0
fi

section=$(awk -v n="$n" -v cmd="$cmd" -v load="$load" -v cpus="$(nproc 2>/dev/null || echo '?')" '
/^BenchmarkRemote\// {
	name = $1; sub(/^BenchmarkRemote\//, "", name); sub(/-[0-9]+$/, "", name)
	ms[name] = $3 / 1e6
}
END {
	print "<!-- remote-bench: written by scripts/remote-bench.sh -->"
	print "## Other machines (ssh)"
	print ""
	print "`" cmd "` (a real sshd on 127.0.0.1, a throwaway account, " n " calls per row, mean): each remote call against `ssh host true` over the same warm master connection. " cpus " CPUs, load average " load " when it started: the ratios compare, the milliseconds drift with the load."
	print ""
	print "| What | Mean | Ratio to `ssh host true` |"
	print "|---|---:|---:|"
	base = ms["ssh_true"]
	printf "| `ssh host true` over the warm master | %.1f ms | 1.0x |\n", base
	printf "| remote `bg_status task_id=...` | %.1f ms | %.1fx |\n", ms["bg_status"], ms["bg_status"] / base
	printf "| remote `bg_output tail=80` (since=false) | %.1f ms | %.1fx |\n", ms["bg_output_tail80"], ms["bg_output_tail80"] / base
	printf "| remote `bg_output` since-read of 1,000 new lines | %.1f ms | %.1fx |\n", ms["since_1000_lines"], ms["since_1000_lines"] / base
	printf "| first call on a fresh host: master connection, `uname -sm`, copy and checksum of bgtask-tool, the call | %.0f ms | %.1fx |\n", ms["first_call_with_deploy"], ms["first_call_with_deploy"] / base
	print "<!-- /remote-bench -->"
}' <<<"$raw")

if [ -f "$out" ] && grep -q '^<!-- remote-bench' "$out"; then
	# Replace the section in place, keeping the rest of the file.
	awk -v section="$section" '
		/^<!-- remote-bench/ { print section; skip = 1; next }
		/^<!-- \/remote-bench -->/ { skip = 0; next }
		!skip { print }' "$out" >"$out.tmp" && mv "$out.tmp" "$out"
else
	printf '\n%s\n' "$section" >>"$out"
fi
echo "$section"
