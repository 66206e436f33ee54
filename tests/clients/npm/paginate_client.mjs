// A paginated query through the official ConvexClient over WebSocket, page by page as an
// app loads more: each page its own subscription with paginationOpts {numItems, cursor},
// the next one from the last page's continueCursor, until isDone; then a message is sent
// and the live pages are read again. Prints one JSON object; tests/live/test_convex_client.py
// asserts. Env: ADVISOR_CHAT_URL, ACCESS_TOKEN, CONVERSATION, NUM_ITEMS.
import { ConvexClient } from "convex/browser";
import WebSocket from "ws";
import { until } from "./support.mjs";

const conversation = process.env.CONVERSATION;
const numItems = Number(process.env.NUM_ITEMS);
const MAX_PAGES = 20;

const client = new ConvexClient(process.env.ADVISOR_CHAT_URL, {
  webSocketConstructor: WebSocket,
  logger: false,
});
client.setAuth(async () => process.env.ACCESS_TOKEN);

const latest = []; // per page: its latest result
const errors = [];
const cursors = [];
let cursor = null;
for (let index = 0; index < MAX_PAGES; index++) {
  cursors.push(cursor);
  client.onUpdate(
    "messages:getConversationMessages",
    { conversationId: conversation, paginationOpts: { numItems, cursor } },
    (result) => {
      latest[index] = result;
    },
    (error) => errors.push({ page: index, message: error.message, data: error.data ?? null }),
  );
  await until(() => latest[index] !== undefined || errors.length > 0, `page ${index}`);
  if (errors.length > 0 || latest[index].isDone) break;
  cursor = latest[index].continueCursor;
}
const contents = () => latest.map((page) => page.page.map((m) => m.content));
const seen = { cursors, loaded: contents(), isDone: latest.map((page) => page.isDone) };

// Read-your-writes: when the promise resolves, the live pages hold the new message.
await client.mutation("messages:sendMessage", { conversationId: conversation, content: "new" });
seen.afterSend = contents();
seen.errors = errors;
await client.close();
console.log(JSON.stringify(seen));
process.exit(0);
