#!/bin/sh
# Cross-builds the lean bgtask-tool for every platform a remote host may
# run (linux and darwin, amd64 and arm64) into DIR, as
# bgtask-tool_<goos>_<goarch>, with a SHA256SUMS file in sha256sum's
# format: the "dist" folder that remote deploy uploads from. Static
# (CGO_ENABLED=0) and stripped, so each runs on any host of its platform.
# install.sh, package.sh and .goreleaser.yaml use it; `bgtask install`
# copies the folder to PREFIX/lib/amp-bg-tasks/dist.
#
#   scripts/dist.sh DIR
#   VERSION, COMMIT   stamped into the binaries (bgtask-tool --version)
set -eu

if [ $# -ne 1 ]; then
	echo "usage: scripts/dist.sh DIR" >&2
	exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
pkg=github.com/amp-bg-tasks/amp-bg-tasks/toolbox
ldflags="-s -w -X $pkg.version=${VERSION:-} -X $pkg.commit=${COMMIT:-}"
cd "$repo"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
	goos=${target%/*} goarch=${target#*/}
	started=$(date +%s)
	printf '%-10s bgtask-tool for %s ... ' "" "$target"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" \
		-o "$out/bgtask-tool_${goos}_${goarch}" ./cmd/bgtask-tool
	echo "$(($(date +%s) - started))s"
done
cd "$out"
sum=sha256sum
command -v sha256sum >/dev/null 2>&1 || sum="shasum -a 256" # macOS; same format.
$sum bgtask-tool_linux_amd64 bgtask-tool_linux_arm64 bgtask-tool_darwin_amd64 bgtask-tool_darwin_arm64 >SHA256SUMS
