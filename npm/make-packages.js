#!/usr/bin/env node
// Lays out the npm packages of one version for `npm pack`, called by
// scripts/package.sh:
//
//   node npm/make-packages.js OUT VERSION BUILD
//
// BUILD/<goos>_<goarch>/ holds bin/bgtask and lib/amp-bg-tasks/dist/ for
// each platform. OUT gets amp-bg-tasks/ (this folder's package with
// VERSION in it and in its optional dependencies) and one folder per
// platform package, @amp-bg-tasks/<platform>-<cpu>, declaring its os and
// cpu so that npm installs only the one that fits.
"use strict";

const fs = require("fs");
const path = require("path");

const [out, version, build] = process.argv.slice(2);
if (!out || !version || !build) {
  console.error("usage: node npm/make-packages.js OUT VERSION BUILD");
  process.exit(2);
}

// npm names (process.platform, process.arch) of Go's GOOS_GOARCH.
const platforms = [
  { goos: "linux", goarch: "amd64", os: "linux", cpu: "x64" },
  { goos: "linux", goarch: "arm64", os: "linux", cpu: "arm64" },
  { goos: "darwin", goarch: "amd64", os: "darwin", cpu: "x64" },
  { goos: "darwin", goarch: "arm64", os: "darwin", cpu: "arm64" },
];

const main = JSON.parse(fs.readFileSync(path.join(__dirname, "amp-bg-tasks", "package.json"), "utf8"));
main.version = version;
for (const p of platforms) {
  const name = `@amp-bg-tasks/${p.os}-${p.cpu}`;
  if (!(name in main.optionalDependencies)) {
    throw new Error(`npm/amp-bg-tasks/package.json does not depend on ${name}`);
  }
  main.optionalDependencies[name] = version;

  const dir = path.join(out, `${p.os}-${p.cpu}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(build, `${p.goos}_${p.goarch}`), dir, { recursive: true });
  const pkg = {
    name,
    version,
    description: `The ${p.os} ${p.cpu} build of amp-bg-tasks (bgtask and the lean bgtask-tool for remote hosts); installed by the amp-bg-tasks package.`,
    homepage: main.homepage,
    repository: main.repository,
    os: [p.os],
    cpu: [p.cpu],
    files: ["bin/", "lib/"],
    preferUnplugged: true,
  };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  fs.writeFileSync(path.join(dir, "README.md"), `# ${name}\n\nThe ${p.os} ${p.cpu} binaries of [amp-bg-tasks](https://www.npmjs.com/package/amp-bg-tasks): install that package, not this one.\n`);
}
const dir = path.join(out, "amp-bg-tasks");
fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
fs.copyFileSync(path.join(__dirname, "amp-bg-tasks", "bin", "amp-bg-tasks.js"), path.join(dir, "bin", "amp-bg-tasks.js"));
fs.chmodSync(path.join(dir, "bin", "amp-bg-tasks.js"), 0o755);
fs.copyFileSync(path.join(__dirname, "amp-bg-tasks", "README.md"), path.join(dir, "README.md"));
fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(main, null, 2) + "\n");
