#!/usr/bin/env node
// Runs bgtask from the platform package that npm installed beside this
// one: each of @amp-bg-tasks/{linux,darwin}-{x64,arm64} is an optional
// dependency that declares its os and cpu, so npm fetches only the one
// that fits. Nothing is downloaded at run time and there is no install
// script. Arguments, stdio, exit code and signals pass through, so
// `npx -y amp-bg-tasks mcp` serves MCP on stdio like bgtask itself.
"use strict";

const { spawn } = require("child_process");
const path = require("path");

const pkg = `@amp-bg-tasks/${process.platform}-${process.arch}`;
const supported = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"];
if (!supported.includes(`${process.platform}-${process.arch}`)) {
  console.error(`amp-bg-tasks: no build for ${process.platform} ${process.arch}; there are builds for ${supported.join(", ")}`);
  process.exit(1);
}
let bgtask;
try {
  bgtask = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", "bgtask");
} catch (err) {
  console.error(`amp-bg-tasks: ${pkg} is not installed: npm leaves optional dependencies out with --omit=optional (or --no-optional); install again without it`);
  process.exit(1);
}

const child = spawn(bgtask, process.argv.slice(2), { stdio: "inherit" });
const forward = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const sig of forward) {
  process.on(sig, () => child.kill(sig));
}
child.on("error", (err) => {
  console.error(`amp-bg-tasks: run ${bgtask}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    // End the way bgtask ended, so a caller sees the same signal.
    for (const sig of forward) process.removeAllListeners(sig);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code);
});
