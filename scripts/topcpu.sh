#!/usr/bin/env bash
# Measures what `bgtask top` costs while nothing happens: N quiet tasks
# (sleep), top running on a real terminal (script(1) gives it a PTY,
# 80x24) at its default 1 s interval, its CPU time (user + system, from
# /proc/PID/stat) over SECONDS, as a share of one core.
#
#   scripts/topcpu.sh [BGTASK] [N] [SECONDS]    default: bgtask on PATH, 20, 10
set -euo pipefail
bgtask=${1:-bgtask}
n=${2:-20}
secs=${3:-10}
bgtask=$(command -v "$bgtask")
export TASKS_DIR
TASKS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/topcpu.XXXXXX")
cleanup() {
	[ -n "${spid:-}" ] && kill "$spid" 2>/dev/null || true
	"$bgtask" stop --all >/dev/null 2>&1 || true
	rm -rf "$TASKS_DIR"
}
trap cleanup EXIT
for i in $(seq "$n"); do
	"$bgtask" run --label "quiet$i" -- sleep 100000 >/dev/null 2>&1
done
# Its keyboard: a FIFO held open and never written, so top waits for keys
# (/dev/zero would type NULs, /dev/null would end the session).
mkfifo "$TASKS_DIR/keys"
exec 3<>"$TASKS_DIR/keys"
script -qfc "stty cols 80 rows 24; exec $bgtask top" /dev/null >/dev/null 2>&1 <"$TASKS_DIR/keys" &
spid=$!
top=""
for _ in $(seq 100); do
	top=$(pgrep -f -n "^$bgtask top" || true)
	[ -n "$top" ] && break
	sleep 0.1
done
[ -n "$top" ] || { echo "top did not start" >&2; exit 1; }
sleep 3 # Its start-up is not the idle cost.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$top")
s0=$(date +%s.%N)
sleep "$secs"
t1=$(ticks "$top")
s1=$(date +%s.%N)
echo "$n quiet tasks: bgtask top used $(echo "scale=1; 100 * ($t1 - $t0) / $hz / ($s1 - $s0)" | bc)% of a core over $(printf %.1f "$(echo "$s1 - $s0" | bc)") s"
