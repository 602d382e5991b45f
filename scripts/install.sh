#!/bin/sh
# Builds bgtask, the lean bgtask-tool and the dist folder of lean builds
# for remote hosts with the local Go toolchain and installs them for the
# current user, with the toolbox entries, the skill, the AGENTS.md
# guidance and the shell-profile lines. The install itself is `bgtask install`, so
# this script and an installed binary do exactly the same thing; every
# argument is passed on (--prefix DIR, --toolbox DIR, --shell LIST,
# --uninstall: see `bgtask install -h`).
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v go >/dev/null 2>&1; then
	echo "install.sh: building bgtask needs Go (https://go.dev/dl/); none found on PATH" >&2
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM # Through the EXIT trap.
echo "building   bgtask and bgtask-tool with $(go version)"
# Static (no cgo): nothing here needs C, and a binary that does not load
# the C library starts about 3 ms sooner on every tool call.
mkdir -p "$tmp/bin"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/bgtask" ./cmd/bgtask && CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/bgtask-tool" ./cmd/bgtask-tool)
# The lean builds remote deploy uploads, in the layout of a release
# archive: bgtask install copies them beside the installed bgtask.
case " $* " in
*" --uninstall "*) ;;
*)
	echo "building   bgtask-tool for linux and darwin, amd64 and arm64 (for remote hosts)"
	"$repo/scripts/dist.sh" "$tmp/lib/amp-bg-tasks/dist"
	;;
esac
"$tmp/bin/bgtask" install "$@"
