// The official ConvexClient across a server restart, driven step by step by
// tests/live/test_reconnect.py over stdin/stdout: one JSON line out per step, one command
// line in when the test has done its part. Every frame on the wire is recorded (the
// WebSocket is wrapped), so the test can check the Connect messages and timestamps.
// Env: ADVISOR_CHAT_URL, ACCESS_TOKEN, CONVERSATION, EXPECT (JSON list of contents).
import { createInterface } from "node:readline";
import { ConvexClient } from "convex/browser";
import WebSocket from "ws";
import { until } from "./support.mjs";

const url = process.env.ADVISOR_CHAT_URL;
const conversation = process.env.CONVERSATION;
const expected = JSON.parse(process.env.EXPECT);
const STEP_MS = 60_000; // a reconnect waits out the client's backoff (1 s, doubling, ≤ 16 s)
const frames = []; // {dir: "in" | "out", connection, message}
let connections = 0;

class RecordedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    const connection = connections++;
    this.connection = connection;
    this.on("message", (data) =>
      frames.push({ dir: "in", connection, message: JSON.parse(String(data)) }),
    );
  }
  send(data, ...rest) {
    frames.push({ dir: "out", connection: this.connection, message: JSON.parse(data) });
    return super.send(data, ...rest);
  }
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function command() {
  const { value, done } = await lines.next();
  if (done) throw new Error("the test closed stdin");
  return value.trim();
}
function say(event, fields = {}) {
  console.log(JSON.stringify({ event, ...fields }));
}
const pages = [];
const errors = [];
const client = new ConvexClient(url, { webSocketConstructor: RecordedWebSocket, logger: false });
client.setAuth(async () => process.env.ACCESS_TOKEN);
client.onUpdate(
  "messages:getConversationMessages",
  { conversationId: conversation, paginationOpts: { numItems: 50, cursor: null } },
  (page) => pages.push(page.page.map((m) => m.content)),
  (error) => errors.push({ message: error.message, data: error.data ?? null }),
);
await until(
  () => pages.length > 0 && client.connectionState().isWebSocketConnected,
  "first page",
  STEP_MS,
  10,
);
say("subscribed", { page: pages.at(-1) });

// The test has stopped the server: once the client has noticed, mutate. The mutation waits
// in the client until it is connected again, and is sent then.
if ((await command()) !== "down") throw new Error("expected `down`");
await until(
  () => !client.connectionState().isWebSocketConnected,
  "the client to see the server gone",
  STEP_MS,
  10,
);
let result;
let pageWhenDone;
const sent = client
  .mutation("messages:sendMessage", { conversationId: conversation, content: "while down" })
  .then((value) => {
    result = { ok: true, value };
    pageWhenDone = pages.at(-1);
  })
  .catch((error) => {
    result = { ok: false, message: String(error.message), data: error.data ?? null };
  });
say("mutated while down");

// The test has started the server again and written through it over HTTP.
if ((await command()) !== "up") throw new Error("expected `up`");
const done = (page) => page !== undefined && expected.every((c) => page.includes(c));
await until(() => result !== undefined && done(pages.at(-1)), "current results", STEP_MS, 10);
await sent;
say("caught up", {
  result,
  pageWhenDone,
  page: pages.at(-1),
  pages,
  errors,
  connectionState: client.connectionState(),
  frames,
});
await client.close();
process.exit(0);
