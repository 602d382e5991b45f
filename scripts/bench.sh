#!/usr/bin/env bash
# Runs every benchmark and writes BENCHMARKS.md: the machine, then for
# each row the command, its median, its goal and its ratio to a bare Go
# program built in the same run.
#
#   scripts/bench.sh            # full: about 10 minutes on 2 cores
#   scripts/bench.sh --quick    # a few repetitions, smaller inputs (CI)
#   scripts/bench.sh --out FILE # write elsewhere than BENCHMARKS.md
#
# Needs Go, hyperfine (installed here with apt-get when missing and this
# runs as root; otherwise: apt-get install hyperfine, brew install
# hyperfine), and npm for the agent-loop row (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) args+=(-quick) ;;
	--out) args+=(-out "$2"); shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (--quick, --out FILE)" >&2; exit 2 ;;
	esac
	shift
done

if ! command -v hyperfine >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing hyperfine" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq hyperfine >/dev/null
	else
		echo "bench.sh: hyperfine is needed: apt-get install hyperfine (or brew install hyperfine)" >&2
		exit 1
	fi
fi
exec go run ./scripts/bench "${args[@]}"
