#!/usr/bin/env bash
# `go install github.com/amp-bg-tasks/amp-bg-tasks/cmd/bgtask@VERSION`
# gives a working install, checked offline against a local module proxy
# (GOPROXY=file://...) that holds this commit (HEAD) as the pseudo-version
# Go would give it, the dependencies coming from the module cache:
#
#   bgtask --version    names that version and its commit
#   bgtask install      with Go on PATH: fetches the same module version,
#                       builds the lean bgtask-tool, and records that
#                       version in the dist folder, from which the first
#                       use of a host of another platform builds its one
#   bgtask install      without Go on PATH: bgtask serves as bgtask-tool
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
mod=github.com/amp-bg-tasks/amp-bg-tasks
work=$(mktemp -d "${TMPDIR:-/tmp}/bgtask-goinstall.XXXXXX")
cleanup() {
	chmod -R u+w "$work" 2>/dev/null || true # The module cache is read-only.
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cd "$repo"
commit=$(git rev-parse HEAD)
version=v0.0.0-$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd)-${commit:0:12}
echo "== a module proxy holding $mod@$version (HEAD)"
proxy=$work/proxy/$mod/@v
mkdir -p "$proxy"
echo "$version" >"$proxy/list"
printf '{"Version":"%s","Time":"%s"}\n' "$version" "$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)" >"$proxy/$version.info"
git show HEAD:go.mod >"$proxy/$version.mod"
git archive --format=zip --prefix="$mod@$version/" -o "$proxy/$version.zip" HEAD

export GOPROXY="file://$work/proxy,file://$(go env GOMODCACHE)/cache/download" GOSUMDB=off GOFLAGS=-modcacherw
export GOMODCACHE=$work/modcache GOBIN=$work/gobin GOWORK=off GOTOOLCHAIN=local
unset BG_DIST_DIR
echo "== go install $mod/cmd/bgtask@$version"
(cd "$work" && go install "$mod/cmd/bgtask@$version") || fail "go install"
v=$("$GOBIN/bgtask" --version)
[ "$v" = "bgtask $version (commit ${commit:0:12})" ] || fail "bgtask --version says \"$v\", want the version $version and commit ${commit:0:12}"
echo "   $v"

echo "== bgtask install, Go on PATH: builds the lean bgtask-tool, records where the other platforms come from"
home=$work/home
mkdir -p "$home"
HOME=$home TASKS_DIR=$work/tasks "$GOBIN/bgtask" install --shell none --agents none >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	fail "bgtask install"
}
lean=$home/.local/bin/bgtask-tool
[ -f "$lean" ] && [ ! -L "$lean" ] || fail "no lean bgtask-tool installed:
$(cat "$work/install.log")"
lv=$("$lean" --version)
[ "$lv" = "$v" ] || fail "bgtask-tool --version says \"$lv\", bgtask \"$v\""
if cmp -s "$lean" "$home/.local/bin/bgtask"; then
	fail "bgtask-tool is the full bgtask"
fi
dist=$home/.local/lib/amp-bg-tasks/dist
(cd "$dist" && sha256sum -c --quiet SHA256SUMS && [ "$(wc -l <SHA256SUMS)" = 1 ]) || fail "the dist folder is incomplete:
$(cat "$work/install.log")"
grep -q "\"version\":\"$version\"" "$dist/build-source" || fail "the dist folder does not name $mod@$version as its source: $(cat "$dist/build-source" 2>&1)"
for f in "$home"/.local/lib/amp-bg-tasks/dist/bgtask-tool_*; do
	if file "$f" 2>/dev/null | grep -q 'dynamically linked'; then fail "$f is not static"; fi
done
echo "   bgtask-tool $lv; ~/.local/lib/amp-bg-tasks/dist holds this machine's build (checksum good) and its source"

echo "== bgtask install, no Go on PATH: bgtask serves as bgtask-tool"
home2=$work/home2
mkdir -p "$home2"
out=$(HOME=$home2 PATH=/usr/bin:/bin TASKS_DIR=$work/tasks "$GOBIN/bgtask" install --shell none --agents none 2>&1) || fail "bgtask install without Go: $out"
grep -q "bgtask serves as bgtask-tool" <<<"$out" || fail "no note that bgtask serves as bgtask-tool:
$out"
[ "$(readlink "$home2/.local/bin/bgtask-tool")" = bgtask ] || fail "bgtask-tool is not bgtask"
echo "go-install-test passed ($mod/cmd/bgtask@$version)"
