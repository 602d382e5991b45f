#!/usr/bin/env node
// A read-only npm registry over the package tarballs in DIR, on
// 127.0.0.1, for scripts/npm-install-test.sh: `npx -y amp-bg-tasks` then
// resolves and fetches exactly as from registry.npmjs.org, cold cache
// included, with no network. Each tarball's package.json becomes its
// version in the packument; every other name is a 404.
//
//   node scripts/npm-registry.js DIR PORTFILE   (writes the port it listens on to PORTFILE)
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const path = require("path");
const zlib = require("zlib");

const [dir, portFile] = process.argv.slice(2);

// packageJSON reads package/package.json out of a .tgz (ustar).
function packageJSON(tgz) {
  const tar = zlib.gunzipSync(tgz);
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.toString("utf8", off, off + 100).replace(/\0.*$/s, "");
    if (name === "") break;
    const size = parseInt(tar.toString("utf8", off + 124, off + 136).replace(/\0.*$/s, "").trim() || "0", 8);
    if (name === "package/package.json") {
      return JSON.parse(tar.toString("utf8", off + 512, off + 512 + size));
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error("no package/package.json");
}

const packuments = new Map();
const tarballs = new Map();
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".tgz"))) {
  const tgz = fs.readFileSync(path.join(dir, file));
  const pkg = packageJSON(tgz);
  tarballs.set(file, tgz);
  const doc = packuments.get(pkg.name) || { name: pkg.name, "dist-tags": {}, versions: {} };
  doc["dist-tags"].latest = pkg.version;
  doc.versions[pkg.version] = {
    ...pkg,
    dist: {
      tarball: `/-/${file}`, // Made absolute per request.
      integrity: "sha512-" + crypto.createHash("sha512").update(tgz).digest("base64"),
      shasum: crypto.createHash("sha1").update(tgz).digest("hex"),
    },
  };
  packuments.set(pkg.name, doc);
}

const server = http.createServer((req, res) => {
  const url = decodeURIComponent(req.url.split("?")[0]);
  if (url.startsWith("/-/") && tarballs.has(url.slice(3))) {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(tarballs.get(url.slice(3)));
    return;
  }
  const doc = packuments.get(url.slice(1));
  if (!doc) {
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"error":"not found"}');
    return;
  }
  const base = `http://${req.headers.host}`;
  const out = JSON.parse(JSON.stringify(doc));
  for (const v of Object.values(out.versions)) v.dist.tarball = base + v.dist.tarball;
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(out));
});
server.listen(0, "127.0.0.1", () => {
  fs.writeFileSync(portFile, String(server.address().port));
});
