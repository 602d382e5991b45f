# shellcheck shell=bash
# What the scripts that check bgtask against real clients from npm share
# (the Amp CLIs, the MCP Inspector, Gemini CLI, opencode). Sourced, never
# run: each caller sets `repo` (this checkout) first. Every package is
# installed into a private prefix; nothing global is touched.

# fail MESSAGE: says why the check failed and stops it.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# need_node NAME WHAT: skips the check (exit 0), saying so, where npm or
# node is missing.
need_node() {
	if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
		echo "SKIP $1: npm and node are needed to $2 (Debian: nodejs, npm)"
		exit 0
	fi
}

# need_linux_x64 NAME WHAT: skips the check (exit 0) on any other platform:
# the Amp CLI package runs on Linux x86_64 only.
need_linux_x64() {
	if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
		echo "SKIP $1: $2 runs on Linux x86_64 only"
		exit 0
	fi
}

# npm_fetch PREFIX PACKAGE@VERSION: installs the pinned package under
# PREFIX, its log in PREFIX.npm.log, shown when the install fails.
npm_fetch() {
	mkdir -p "$(dirname "$1")"
	npm install --prefix "$1" --no-audit --no-fund --loglevel=error "$2" >"$1.npm.log" 2>&1 || {
		cat "$1.npm.log" >&2
		fail "npm install $2"
	}
}

# build_bgtask DIR: builds bgtask, the lean bgtask-tool and bgtask-call of
# this checkout into DIR, static, as the installer and the release ship
# them.
build_bgtask() {
	(cd "$repo" && CGO_ENABLED=0 go build -o "$1/" ./cmd/bgtask ./cmd/bgtask-tool ./cmd/bgtask-call)
}
