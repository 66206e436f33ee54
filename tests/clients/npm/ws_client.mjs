// Drives the official Convex npm client over WebSocket (ConvexClient, the sync protocol)
// against our server and prints one JSON object of what it saw. Run by
// tests/live/test_convex_client.py, which asserts.
// Env: ADVISOR_CHAT_URL, ACCESS_TOKEN, REFRESH_TOKEN.
import { ConvexClient } from "convex/browser";
import WebSocket from "ws";
import { until, post } from "./support.mjs";

const url = process.env.ADVISOR_CHAT_URL;
let refreshToken = process.env.REFRESH_TOKEN;
const seen = { refreshes: 0, authChanges: [], pages: [], titles: [], errors: [] };

const client = new ConvexClient(url, { webSocketConstructor: WebSocket, logger: false });
client.setAuth(
  async ({ forceRefreshToken }) => {
    if (!forceRefreshToken) return process.env.ACCESS_TOKEN;
    const refreshed = await post(url, "/auth/refresh", { refreshToken });
    if (refreshed.status !== 200) return null;
    seen.refreshes += 1;
    refreshToken = refreshed.body.refreshToken;
    return refreshed.body.accessToken;
  },
  (isAuthenticated) => seen.authChanges.push(isAuthenticated),
);
await until(() => seen.authChanges.includes(true), "authenticated");

seen.user = await client.mutation("users:store", {});
const conversation = await client.mutation("conversations:createConversation", {
  title: "Live ✓",
});
seen.conversation = conversation;

const pageArgs = { conversationId: conversation, paginationOpts: { numItems: 50, cursor: null } };
client.onUpdate(
  "messages:getConversationMessages",
  pageArgs,
  (page) => seen.pages.push(page.page.map((m) => m.content)),
  (error) => seen.errors.push({ message: error.message, data: error.data ?? null }),
);
client.onUpdate(
  "conversations:getConversationById",
  { conversationId: conversation },
  (c) => seen.titles.push(c.title),
  (error) => seen.errors.push({ message: error.message, data: error.data ?? null }),
);
await until(() => seen.pages.length > 0 && seen.titles.length > 0, "first results");
seen.firstPage = seen.pages.at(-1);

// Read-your-writes: when the mutation's promise resolves, its update is already here.
await client.mutation("messages:sendMessage", { conversationId: conversation, content: "one" });
seen.pageWhenSent = seen.pages.at(-1);
await client.mutation("conversations:updateConversation", {
  conversationId: conversation,
  title: "Renamed ✓",
});
seen.titleWhenRenamed = seen.titles.at(-1);

// The client fetches a fresh token right after the first is confirmed (Authenticate again,
// every query re-run under it); the subscription goes on under the refreshed token.
await until(() => seen.refreshes >= 1, "a refreshed token");
await client.mutation("messages:sendMessage", { conversationId: conversation, content: "two" });
seen.pageAfterRefresh = seen.pages.at(-1);
seen.pageUpdates = seen.pages.length;

// Signing out ends the sign-in: the subscribed query fails UNAUTHENTICATED.
seen.signOut = (await post(url, "/auth/signout", { refreshToken })).status;
await until(() => seen.errors.length === 2, "both queries' errors after sign-out");
await client.close();
console.log(JSON.stringify(seen));
process.exit(0);
