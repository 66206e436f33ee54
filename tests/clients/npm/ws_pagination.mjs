// Drives the official client's reactive pagination (ConvexClient.onPaginatedUpdate_experimental,
// the PaginatedQueryClient usePaginatedQuery shares) against our server: a conversation's
// messages newest first, two pages subscribed, messages written and the message at the
// boundary of page 1 deleted while both are. Prints one JSON object of what it saw; run by
// tests/live/test_pagination_client.py, which asserts.
// Env: ADVISOR_CHAT_URL, ACCESS_TOKEN, REFRESH_TOKEN.
import { ConvexClient } from "convex/browser";
import WebSocket from "ws";
import { until, post } from "./support.mjs";

const url = process.env.ADVISOR_CHAT_URL;
let refreshToken = process.env.REFRESH_TOKEN;
const seen = { updates: 0, repeated: [], unordered: [], statuses: [] };

const client = new ConvexClient(url, { webSocketConstructor: WebSocket, logger: false });
let authenticated = false;
client.setAuth(
  async ({ forceRefreshToken }) => {
    if (!forceRefreshToken) return process.env.ACCESS_TOKEN;
    const refreshed = await post(url, "/auth/refresh", { refreshToken });
    if (refreshed.status !== 200) return null;
    refreshToken = refreshed.body.refreshToken;
    return refreshed.body.accessToken;
  },
  (isAuthenticated) => (authenticated = isAuthenticated),
);
await until(() => authenticated, "authenticated");
await client.mutation("users:store", {});
const conversationId = await client.mutation("conversations:createConversation", {
  title: "Pages",
});
const send = (content) => client.mutation("messages:sendMessage", { conversationId, content });
for (let n = 0; n < 7; n++) await send(`before-${n}`); // pages of 3: two full, one more

// Every update: no message twice, newest first.
let latest;
client.onPaginatedUpdate_experimental(
  "messages:getConversationMessages",
  { conversationId, order: "desc" },
  { initialNumItems: 3 },
  (result) => {
    latest = result;
    seen.updates += 1;
    seen.statuses.push(result.status);
    const ids = result.results.map((m) => m._id);
    if (new Set(ids).size !== ids.length) seen.repeated.push(ids);
    const times = result.results.map((m) => [m.createdAt, m._creationTime]);
    for (let i = 1; i < times.length; i++) {
      const [a, b] = [times[i - 1], times[i]];
      if (a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])) seen.unordered.push(ids);
    }
  },
  (error) => (seen.error = error.message),
);
await until(() => latest?.status === "CanLoadMore", "page 1");
seen.firstPage = latest.results.map((m) => m.content);
latest.loadMore(3);
await until(() => latest.results.length >= 6 && latest.status === "CanLoadMore", "page 2");
seen.twoPages = latest.results.map((m) => m.content);

// Written while both pages are subscribed: at the top, and the last message page 1 first
// showed deleted (its pinned end: page 2 must not slide back into page 1 over it).
const boundary = latest.results[2];
seen.boundary = boundary.content;
await send("during-0");
await client.mutation("messages:deleteMessage", { messageId: boundary._id });
await send("during-1");
await send("during-2");

seen.twoPagesAfter = latest.results.map((m) => m.content);
// Then the rest of the list, to its end.
while (latest.status !== "Exhausted") {
  await until(() => latest.status !== "LoadingMore", "a page loaded");
  if (latest.status === "CanLoadMore") latest.loadMore(3);
}

// Every message once, in order: the pages joined equal a fresh read of the whole list
// (answers the server writes meanwhile included, so read again until the two agree).
let fresh = [];
const ids = (list) => list.map((m) => m._id).join(",");
for (let attempt = 0; attempt < 200; attempt++) {
  const whole = await client.query("messages:getConversationMessages", {
    conversationId,
    order: "desc",
    paginationOpts: { numItems: 200, cursor: null },
  });
  fresh = whole.page;
  if (ids(latest.results) === ids(fresh)) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
seen.joined = latest.results.map((m) => m.content);
seen.fresh = fresh.map((m) => m.content);
seen.finalStatus = latest.status;
await client.close();
console.log(JSON.stringify(seen));
process.exit(0);
