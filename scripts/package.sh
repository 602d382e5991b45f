#!/usr/bin/env bash
# Builds every release artifact into OUT, with Go, tar and npm only:
#
#   OUT/amp-bg-tasks_<goos>_<goarch>.tar.gz             linux and darwin, amd64 and arm64
#   OUT/npm/amp-bg-tasks-<version>.tgz                  the npm package (`npx amp-bg-tasks`)
#   OUT/npm/amp-bg-tasks-<platform>-<cpu>-<version>.tgz its four platform packages
#   OUT/checksums.txt                                   sha256sum of all of the above
#
# Each archive and platform package holds bin/bgtask and
# lib/amp-bg-tasks/dist/: the static lean bgtask-tool for every platform
# with SHA256SUMS (scripts/dist.sh), from which `bgtask install` takes this
# machine's lean build and which remote deploy uploads. Installing from
# OUT needs nothing else: `npm install OUT/npm/*.tgz`, or unpack an
# archive and run its bin/bgtask install. Release builds are stripped and
# stamped with the version and commit (bgtask --version).
#
#   VERSION   default: the v* tag at HEAD without its v, else
#             <last tag or 0.0.0>-dev.g<short commit>
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: scripts/package.sh OUT" >&2
	exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$repo"

commit=$(git rev-parse HEAD)
if [ -z "${VERSION:-}" ]; then
	if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
		VERSION=${tag#v}
	else
		last=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || echo v0.0.0)
		VERSION=${last#v}-dev.g$(git rev-parse --short=12 HEAD)
	fi
fi
export VERSION COMMIT=$commit
echo "== amp-bg-tasks $VERSION (commit $commit) into $out"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

echo "== lean builds for remote hosts (scripts/dist.sh)"
"$repo/scripts/dist.sh" "$work/dist"

pkg=github.com/amp-bg-tasks/amp-bg-tasks/toolbox
rm -rf "$out"/amp-bg-tasks_*.tar.gz "$out/npm" "$out/checksums.txt"
# Reproducible archives: the commit's time, no owner.
mtime=$(git log -1 --format=%ct)
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
	goos=${target%/*} goarch=${target#*/}
	name=amp-bg-tasks_${goos}_${goarch}
	dir=$work/build/${goos}_${goarch}
	echo "== $name"
	mkdir -p "$dir/bin" "$dir/lib/amp-bg-tasks"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath \
		-ldflags "-s -w -X $pkg.version=$VERSION -X $pkg.commit=$commit" -o "$dir/bin/bgtask" ./cmd/bgtask
	# The client of the resident call server (bgtask install --resident).
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "-s -w" -o "$dir/bin/bgtask-call" ./cmd/bgtask-call
	cp -R "$work/dist" "$dir/lib/amp-bg-tasks/dist"
	mkdir -p "$work/archive/$name"
	cp -R "$dir/bin" "$dir/lib" README.md docs "$work/archive/$name/"
	tar -C "$work/archive" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
		-czf "$out/$name.tar.gz" "$name"
done

echo "== npm packages"
node "$repo/npm/make-packages.js" "$work/npm" "$VERSION" "$work/build"
mkdir -p "$out/npm"
for p in linux-x64 linux-arm64 darwin-x64 darwin-arm64 amp-bg-tasks; do
	(cd "$work/npm/$p" && npm pack --silent --pack-destination "$out/npm" >/dev/null)
done

(cd "$out" && sha256sum amp-bg-tasks_*.tar.gz npm/*.tgz >checksums.txt)
echo "== sizes"
(cd "$out" && ls -l amp-bg-tasks_*.tar.gz npm/*.tgz | awk '{printf "%8.1f MB  %s\n", $5 / 1048576, $9}')
