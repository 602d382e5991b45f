// Sessions of one client: two windows of one agent each start their own
// `bgtask mcp` and send the same clientInfo name. (read) Both read one
// task with since-reads at the same time: each must get every line.
// (outlive) The server is SIGKILLed during a wait: the task runs on, a
// new session lists it running, and its end, which happens while no
// session is connected, is told once, to the next session only. Prints
// one JSON report for sessions_test.go.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { readFileSync } from "node:fs";

async function connect(name) {
  const transport = new StdioClientTransport({
    command: process.env.BG_SERVER, args: ["mcp"], env: { ...process.env }, stderr: "inherit",
  });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${r.content?.[0]?.text}`);
  return r.structuredContent;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Since-reads until the task has ended and a read finds nothing new.
async function readAll(client, id) {
  const lines = [];
  for (let i = 0; i < 200; i++) {
    const out = await call(client, "bg_output", { task_id: id, stream: "stdout", wait_seconds: 3, raw: true });
    if (out.stdout) lines.push(...out.stdout.split("\n"));
    if (out.status !== "running" && !out.stdout) break;
  }
  return lines;
}

async function read() {
  const a = await connect("same-client");
  const b = await connect("same-client");
  const run = await call(a.client, "bg_run", {
    command: "for i in $(seq 1 40); do echo line $i; sleep 0.05; done; sleep 1", label: "lines",
  });
  const [la, lb] = await Promise.all([readAll(a.client, run.task_id), readAll(b.client, run.task_id)]);
  await a.client.close();
  await b.client.close();
  return { a: la, b: lb };
}

function status(id) {
  try {
    return readFileSync(`${process.env.TASKS_DIR}/${id}/status`, "utf8").trim();
  } catch {
    return "";
  }
}

async function outlive() {
  const a = await connect("outlive-client");
  const run = await call(a.client, "bg_run", { command: "sleep 6; echo bye; exit 3", label: "survivor" });
  // A wait that the kill cuts short.
  const waiting = a.client.callTool({ name: "bg_status", arguments: { task_id: run.task_id, wait_seconds: 30 } }).catch((e) => String(e));
  await sleep(1000);
  const serverPid = a.transport.pid;
  process.kill(serverPid, "SIGKILL");
  const cut = await waiting;
  const b = await connect("outlive-client");
  const listed = await call(b.client, "bg_status", {});
  const row = listed.tasks.find((t) => t.task_id === run.task_id);
  const read = await call(b.client, "bg_output", { task_id: run.task_id });
  await b.client.close();
  for (let i = 0; i < 300 && status(run.task_id) === "running"; i++) await sleep(100);
  const c = await connect("outlive-client");
  const first = await call(c.client, "bg_status", {});
  const second = await call(c.client, "bg_status", {});
  await c.client.close();
  const d = await connect("outlive-client");
  const later = await call(d.client, "bg_status", {});
  await d.client.close();
  const told = (r) => (r.notices ?? []).filter((n) => n.task_id === run.task_id).map((n) => n.message);
  return {
    serverPid, cut: String(cut).slice(0, 200), listedStatus: row?.status ?? "", readable: read.status,
    endStatus: status(run.task_id), first: told(first), second: told(second), later: told(later),
  };
}

const [r, o] = await Promise.all([read(), outlive()]);
console.log(JSON.stringify({ read: r, outlive: o }));
