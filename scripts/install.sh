#!/bin/sh
# Builds bgtask and the lean bgtask-tool with the local Go toolchain and
# installs them for the current user, with the toolbox entries, the skill,
# the AGENTS.md guidance and the shell-profile lines. The install itself is
# `bgtask install`, so this script and an installed binary do exactly the
# same thing; every argument but --dist is passed on (--prefix DIR,
# --toolbox DIR, --shell LIST, --agents LIST, --uninstall: see
# `bgtask install -h`).
#
# The lean builds that remote hosts are given (linux and darwin, amd64 and
# arm64) are not built here: the first use of a host of another platform
# builds its one from this checkout (remote.BuildOnDemand), so a cold
# install compiles for one platform only. --dist builds all four now, as a
# release does.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v go >/dev/null 2>&1; then
	echo "install.sh: building bgtask needs Go (https://go.dev/dl/); none found on PATH" >&2
	exit 1
fi
dist=false
uninstall=false
for arg in "$@"; do
	case $arg in
	--dist) dist=true ;;
	--uninstall) uninstall=true ;;
	esac
done
# Every argument but --dist goes to bgtask install.
for arg in "$@"; do
	shift
	[ "$arg" = --dist ] || set -- "$@" "$arg"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM # Through the EXIT trap.

# step VERB WHAT: prints what starts; took prints how long it took.
began=$(date +%s)
step() {
	started=$(date +%s)
	printf '%-10s %s\n' "$1" "$2"
}
took() {
	printf '%-10s in %ss\n' "$1" "$(($(date +%s) - started))"
}

step building "bgtask, bgtask-tool and bgtask-call with $(go version | cut -d' ' -f3) (a first build compiles every dependency: a few minutes)"
# Static (no cgo): nothing here needs C, and a binary that does not load
# the C library starts about 3 ms sooner on every tool call. One go build
# for all three: their packages compile in parallel.
mkdir -p "$tmp/bin"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/" ./cmd/bgtask ./cmd/bgtask-tool ./cmd/bgtask-call)
took built

if ! $uninstall; then
	# The dist folder, in the layout of a release archive: bgtask install
	# copies it beside the installed bgtask.
	out=$tmp/lib/amp-bg-tasks/dist
	mkdir -p "$out"
	if $dist; then
		step building "bgtask-tool for linux and darwin, amd64 and arm64 (for remote hosts)"
		"$repo/scripts/dist.sh" "$out"
		took built
	else
		# This machine's build serves hosts of its platform; the others
		# are built from this checkout on first use.
		name=bgtask-tool_$(go env GOOS)_$(go env GOARCH)
		cp "$tmp/bin/bgtask-tool" "$out/$name"
		sum=sha256sum
		command -v sha256sum >/dev/null 2>&1 || sum="shasum -a 256" # macOS; same format.
		(cd "$out" && $sum "$name" >SHA256SUMS)
		esc=$(printf '%s' "$repo" | sed 's/\\/\\\\/g; s/"/\\"/g')
		printf '{"dir":"%s"}\n' "$esc" >"$out/build-source"
		echo "note       remote hosts of another platform get their bgtask-tool built from $repo on first use (--dist builds them now)"
	fi
fi

"$tmp/bin/bgtask" install "$@"
echo "install.sh took $(($(date +%s) - began))s"
