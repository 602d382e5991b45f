// A 90-second wait through the official TypeScript SDK client at its
// defaults, which gives up on a request after 60 s: (plain) without
// onprogress the server answers within its bound with wait_left, and the
// client goes on with the call the answer names until the wait is over;
// (progress) with onprogress and resetTimeoutOnProgress, one call that
// the server keeps alive with progress notifications. Prints one JSON
// report for sdkclient_test.go.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

// The task ends after 65 s, within the 90 s waited for: past the client's
// 60 s (a progress-kept call cannot answer sooner), and through the
// server's 25 s bound twice (the plain client makes three calls).
const task = { command: "sleep 65; echo finished", timeout: 5, wait_seconds: 90 };

async function connect(name) {
  const transport = new StdioClientTransport({
    command: process.env.BG_SERVER, args: ["mcp"], env: { ...process.env }, stderr: "inherit",
  });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function timed(client, name, args, options) {
  const start = Date.now();
  const call = { tool: name };
  try {
    const r = await client.callTool({ name, arguments: args }, undefined, options);
    call.isError = !!r.isError;
    call.structured = r.structuredContent ?? null;
    call.text = r.content?.[0]?.text ?? "";
  } catch (e) {
    call.thrown = String(e);
  }
  call.seconds = (Date.now() - start) / 1000;
  return call;
}

async function plain() {
  const client = await connect("ts-wait-plain");
  const calls = [await timed(client, "bg_run", { ...task, label: "plain" })];
  for (let last = calls[0]; last.structured?.wait_left && calls.length < 10; ) {
    last = await timed(client, "bg_status", { task_id: calls[0].structured.task_id, wait_seconds: last.structured.wait_left });
    calls.push(last);
  }
  await client.close();
  return { calls };
}

async function progress() {
  const client = await connect("ts-wait-progress");
  let notifications = 0;
  const call = await timed(client, "bg_run", { ...task, label: "progress" },
    { onprogress: () => { notifications++; }, resetTimeoutOnProgress: true });
  await client.close();
  return { call, notifications };
}

const [p, q] = await Promise.all([plain(), progress()]);
console.log(JSON.stringify({ plain: p, progress: q }));
