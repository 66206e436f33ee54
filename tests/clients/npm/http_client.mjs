// Drives the official Convex npm client (ConvexHttpClient) against our server and prints
// one JSON object of what it saw. Run by tests/api/test_convex_clients.py, which asserts.
// Env: ADVISOR_CHAT_URL, ALICE_TOKEN, BOB_TOKEN.
import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";

const url = process.env.ADVISOR_CHAT_URL;
const alice = new ConvexHttpClient(url);
alice.setAuth(process.env.ALICE_TOKEN);
const bob = new ConvexHttpClient(url);
bob.setAuth(process.env.BOB_TOKEN);
const anonymous = new ConvexHttpClient(url);

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return {
      ok: false,
      convexError: error instanceof ConvexError,
      data: error.data ?? null,
      message: String(error.message),
    };
  }
}

const seen = {};
seen.aliceUser = await alice.mutation("users:store", {});
await bob.mutation("users:store", {});
seen.me = await alice.query("users:current", {});
const conversation = await alice.mutation("conversations:createConversation", {
  title: "Board meeting ✓",
});
seen.conversation = conversation;
seen.messageId = await alice.mutation("messages:sendMessage", {
  conversationId: conversation,
  content: "Hello from the official client 🚀",
});
seen.page = await alice.query("messages:getConversationMessages", {
  conversationId: conversation,
  paginationOpts: { numItems: 10, cursor: null },
});
seen.viaFunction = await alice.function("conversations:getConversationById", undefined, {
  conversationId: conversation,
});
seen.bobReadsAlice = await outcome(
  bob.query("conversations:getConversationById", { conversationId: conversation }),
);
seen.anonymous = await outcome(
  anonymous.query("conversations:getUserConversations", {
    paginationOpts: { numItems: 5, cursor: null },
  }),
);
seen.badArgs = await outcome(
  alice.mutation("messages:sendMessage", { conversationId: conversation, content: 5 }),
);
seen.unknownFunction = await outcome(alice.query("nothing:here", {}));
seen.wrongKind = await outcome(alice.query("messages:sendMessage", {}));
console.log(JSON.stringify(seen));
