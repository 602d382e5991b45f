#!/usr/bin/env bash
# A newcomer's first hour, for real: a fresh unprivileged account (useradd)
# with nothing but Go's defaults (no GOFLAGS, no go env file, empty caches)
# clones this commit, runs the README's install, then the README's test
# command with -short. Both must pass, and the account's HOME must then
# hold only what docs/install.md says an install leaves: the files
# install.json records, the clone, and the Go toolchain's own caches and
# telemetry counters. Needs root (useradd, runuser).
#
#   scripts/newcomer-test.sh [USER]     default user: bgtask-newcomer
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
user=${1:-bgtask-newcomer}
if [ "$(id -u)" != 0 ]; then
	echo "newcomer-test: needs root (useradd, runuser)" >&2
	exit 1
fi
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
go=$(command -v go) || fail "no go on PATH"
godir=$(dirname "$(readlink -f "$go")")

# A new account every run: nothing left from an earlier one.
if id "$user" >/dev/null 2>&1; then
	userdel -r "$user" >/dev/null 2>&1 || true
fi
useradd -m -s /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
trap 'userdel -r "$user" >/dev/null 2>&1 || true; rm -f "$bundle"' EXIT
skel=$(cd "$home" && find . -mindepth 1 \( -type f -o -type l \) | sort)

# The clone: this commit, through a bundle the new account can read.
bundle=$(mktemp /tmp/amp-bg-tasks.XXXXXX.bundle)
git -C "$repo" bundle create "$bundle" HEAD >/dev/null 2>&1
chmod 644 "$bundle"

# What the README says, in its words: the install, then the tests.
install=$(sed -n '/^## Install/,/^## /p' "$repo/README.md" | grep -m1 '^\./scripts/install\.sh')
tests=$(sed -n '/^## Run the tests/,/^## /p' "$repo/README.md" | grep -m1 '^go vet ')
[ -n "$install" ] && [ -n "$tests" ] || fail "README.md has no install or test command where this script looks"
tests_short=${tests/go test /go test -short }
echo "== as $user (a new account, Go's defaults): git clone; $install; $tests_short"
as_user() {
	runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
		PATH="$godir:/usr/local/bin:/usr/bin:/bin" TERM=dumb LANG=C.UTF-8 bash -c "$1"
}
started=$(date +%s)
as_user "cd && git -c advice.detachedHead=false clone -q $bundle amp-bg-tasks && cd amp-bg-tasks && $install" || fail "the README's install"
echo "   install: $(($(date +%s) - started)) s"
started=$(date +%s)
as_user "cd ~/amp-bg-tasks && $tests_short" || fail "the README's test command with -short"
echo "   tests: $(($(date +%s) - started)) s"

# What HOME holds now, file by file.
manifest=$home/.config/amp-bg-tasks/install.json
[ -f "$manifest" ] || fail "no install record at $manifest"
unexpected=()
while IFS= read -r f; do
	case $f in
	./amp-bg-tasks/*) continue ;;                              # the clone
	./go/* | ./.cache/go-build/* | ./.config/go/*) continue ;; # Go's module and build caches, telemetry
	./.config/amp-bg-tasks/install.json) continue ;;           # the install record
	esac
	grep -qxF "$f" <<<"$skel" && continue                   # the account's own (/etc/skel)
	grep -qF "\"$home/${f#./}\"" "$manifest" && continue    # recorded by the install
	unexpected+=("$f")
done < <(cd "$home" && find . -mindepth 1 \( -type f -o -type l \) | sort)
if [ ${#unexpected[@]} -gt 0 ]; then
	fail "HOME holds what the install does not document:
$(printf '  %s\n' "${unexpected[@]}")"
fi
echo "newcomer-test passed: HOME holds the install's recorded files, the clone and Go's caches only"
