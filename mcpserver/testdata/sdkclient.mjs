// Drives `bgtask mcp` with the official TypeScript SDK client over stdio,
// as Claude Desktop, Cursor and other TypeScript clients do, and prints
// one JSON report for the Go test (sdkclient_test.go) to check. The
// client checks every structured answer against the tool's outputSchema
// and throws when one does not match.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const transport = new StdioClientTransport({
  command: process.env.BG_SERVER,
  args: ["mcp"],
  env: { ...process.env },
  stderr: "inherit",
});
const client = new Client({ name: "ts-sdk-test", version: "1.0.0" });
await client.connect(transport);

const report = {
  server: client.getServerVersion(),
  instructions: (client.getInstructions() ?? "").length,
  tools: [],
  calls: [],
};
const { tools } = await client.listTools();
report.tools = tools.map((t) => ({
  name: t.name,
  outputSchema: !!t.outputSchema,
  readOnly: t.annotations?.readOnlyHint ?? null,
  destructive: t.annotations?.destructiveHint ?? null,
}));

async function call(kind, name, args) {
  try {
    const r = await client.callTool({ name, arguments: args });
    report.calls.push({
      kind, name, isError: !!r.isError,
      text: r.content?.[0]?.text ?? "",
      structured: r.structuredContent ?? null,
    });
    return r.structuredContent ?? {};
  } catch (e) {
    report.calls.push({ kind, name, thrown: String(e) });
    return {};
  }
}

// Every tool with good arguments.
const run = await call("good", "bg_run", {
  command: "printf 'line one\\nerror: boom\\n'; exec sleep 600",
  label: "ts", timeout: 5, wait_for: "boom", wait_seconds: 20,
});
await call("good", "bg_output", { task_id: run.task_id, filter: "error", since: false });
await call("good", "bg_output", { task_id: run.task_id, view: "digest" });
await call("good", "bg_status", {});
await call("good", "bg_status", { task_id: run.task_id });
const ask = await call("good", "bg_run", {
  command: "read -r x; echo got:$x; exec sleep 600", label: "ask", interactive: true, timeout: 5,
});
await call("good", "bg_send", { task_id: ask.task_id, text: "hello" });
await call("good", "bg_stop", { task_id: ask.task_id });
await call("good", "bg_stop", { task_id: run.task_id });
await call("good", "bg_stop", { task_id: run.task_id, action: "cleanup" });

// Every tool with bad arguments: each a tool error naming the parameter.
await call("bad", "bg_run", {});
await call("bad", "bg_run", { command: "true", timeout: "soon" });
await call("bad", "bg_output", { task_id: "nope" });
await call("bad", "bg_status", { task_id: 5 });
await call("bad", "bg_stop", { task_id: run.task_id, action: "explode" });
await call("bad", "bg_send", { task_id: "task-1-x" });
await call("unknown", "no_such_tool", {});

console.log(JSON.stringify(report));
await client.close();
