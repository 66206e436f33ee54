// Replays the original app's frontend against our server through the official Convex npm
// client. Every call uses the path and arguments that the original's src/ sends
// (src/lib/convex-api.ts, src/lib/convex-chat.ts, src/components/chat/ConvexChatInterface.tsx
// and ConversationHeader.tsx). The flow: sign in, the current user, the advisors, the
// conversation list, a new conversation with an active advisor, the typing indicator, a
// message and the advisor's answer arriving in the message list, rename, delete.
//
// MODE=ws replays it over the WebSocket (ConvexClient: every query a subscription, as
// useQuery holds it). MODE=http replays it over HTTP (ConvexHttpClient: queries read again).
// Each step is recorded with its outcome and does not stop the run, so one JSON object
// names every step that failed. tests/api/test_original_client.py asserts on it.
// Env: ADVISOR_CHAT_URL, MODE, EMAIL, PASSWORD, NAME.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import WebSocket from "ws";
import { until, post } from "./support.mjs";

const url = process.env.ADVISOR_CHAT_URL;
const mode = process.env.MODE;
const ANSWER_MS = 60_000; // an answer streams from the model: the bound only stops a hang
const QUESTION = "How long should our runway be?";
const steps = {};
const seen = { mode, steps };

function describe(error) {
  return { message: String(error?.message ?? error), data: error?.data ?? null };
}

// Runs one step of the replay and records its value or its error.
async function step(name, fn) {
  try {
    const value = await fn();
    steps[name] = { ok: true, value: value ?? null };
    return value;
  } catch (error) {
    steps[name] = { ok: false, error: describe(error) };
    return undefined;
  }
}

// Each query the frontend holds with useQuery. Over the WebSocket this is a subscription,
// so `latest` is whatever the server last sent. Over HTTP, `read()` queries again.
function holder(client, path, args) {
  const held = { updates: [], error: null, read: null };
  if (mode === "ws") {
    client.onUpdate(
      path,
      args,
      (value) => {
        held.updates.push(value);
        held.error = null;
      },
      (error) => {
        held.error = describe(error);
      },
    );
    held.read = async () => {
      await until(() => held.updates.length > 0 || held.error !== null, `${path} first result`);
      if (held.error !== null) throw Object.assign(new Error(held.error.message), held.error);
      return held.updates.at(-1);
    };
  } else {
    held.read = async () => {
      const value = await client.query(path, args);
      held.updates.push(value);
      return value;
    };
  }
  return held;
}

// Waits until a query's answer satisfies `check`: over the WebSocket the answer is pushed
// by the server; over HTTP the query is read again until then.
async function waitFor(held, check, what, ms = 10_000) {
  if (mode === "ws") {
    const met = () => held.updates.length > 0 && check(held.updates.at(-1));
    await until(() => held.error !== null || met(), what, ms);
    if (!met()) throw Object.assign(new Error(held.error.message), held.error);
    return held.updates.at(-1);
  }
  const started = Date.now();
  for (;;) {
    const value = await held.read();
    if (check(value)) return value;
    if (Date.now() - started > ms) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Sign in: a local account, as a person signing up would.
const signedUp = await post(url, "/auth/signup", {
  email: process.env.EMAIL,
  password: process.env.PASSWORD,
  name: process.env.NAME,
});
steps.signUp = { ok: signedUp.status === 200, value: { status: signedUp.status } };
const token = signedUp.body.accessToken;

let client;
if (mode === "ws") {
  client = new ConvexClient(url, { webSocketConstructor: WebSocket, logger: false });
  const authChanges = [];
  client.setAuth(
    async () => token,
    (isAuthenticated) => authChanges.push(isAuthenticated),
  );
  await step("authenticated", () => until(() => authChanges.includes(true), "authenticated"));
} else {
  // Signed out first: the original's getCurrentUserInfo answers null, and its advisors are
  // public (the marketplace can be browsed before sign-up).
  const anonymous = new ConvexHttpClient(url);
  await step("signedOutCurrentUser", () => anonymous.query("auth:getCurrentUserInfo", {}));
  await step("signedOutAdvisors", async () =>
    (await anonymous.query("advisors:getAllAdvisors", {})).length,
  );
  client = new ConvexHttpClient(url);
  client.setAuth(token);
}

// useCurrentUser(), useAdvisors(), useConversations(true): what the chat page holds first.
const currentUser = holder(client, "auth:getCurrentUserInfo", {});
const advisors = holder(client, "advisors:getAllAdvisors", {});
const conversations = holder(client, "conversations:getUserConversations", {});
const me = await step("getCurrentUserInfo", () => currentUser.read());
const advisorList = await step("getAllAdvisors", () => advisors.read());
await step("getUserConversations", () => conversations.read());

// handleNewConversation: the advisor picked in the rail, its name as the default title.
const advisor = Array.isArray(advisorList) ? advisorList[0] : undefined;
seen.advisor = advisor ? { _id: advisor._id, name: advisor.persona?.name } : null;
const conversationId = advisor
  ? await step("createConversation", () =>
      client.mutation("conversations:createConversation", {
        title: advisor.persona?.name || "New Conversation",
        activeAdvisorId: advisor._id,
      }),
    )
  : undefined;

if (conversationId) {
  seen.conversationId = conversationId;
  await step("listedAfterCreate", () =>
    waitFor(
      conversations,
      (list) => Array.isArray(list) && list.some((c) => c._id === conversationId),
      "the new conversation listed",
    ),
  );
  // useConversation, useConversationMessages, useTypingUsers for the open conversation.
  const opened = holder(client, "conversations:getConversationById", { conversationId });
  const messages = holder(client, "messages:getConversationMessages", { conversationId });
  const typing = holder(client, "realtime:getTypingUsers", { conversationId });
  await step("getConversationById", () => opened.read());
  await step("getConversationMessages", () => messages.read());
  await step("getTypingUsers", () => typing.read());

  // handleTypingStart / handleTypingStop.
  await step("setTypingStatusTrue", () =>
    client.mutation("realtime:setTypingStatus", { conversationId, isTyping: true }),
  );
  await step("typingShown", () =>
    waitFor(
      typing,
      (users) => Array.isArray(users) && users.length === 1,
      "the user shown typing",
    ),
  );
  await step("setTypingStatusFalse", () =>
    client.mutation("realtime:setTypingStatus", { conversationId, isTyping: false }),
  );
  await step("typingCleared", () =>
    waitFor(typing, (users) => Array.isArray(users) && users.length === 0, "typing cleared"),
  );

  // useConvexChat's handleSubmit: the user's message, then its mock "assistant" message
  // (the original's own validator refused `sender: "assistant"` too).
  await step("sendMessage", () =>
    client.mutation("messages:sendMessage", {
      conversationId,
      sender: "user",
      content: QUESTION,
      contentJson: null,
      mentions: [],
      tokensUsed: 0,
    }),
  );
  await step("sendMockAssistantMessage", () =>
    client.mutation("messages:sendMessage", {
      conversationId,
      sender: "assistant",
      content: "This is a mock response. The AI integration will be completed in the next phase.",
      contentJson: null,
      mentions: [],
      tokensUsed: 0,
    }),
  );
  // The advisor's answer arrives in the message list the page holds.
  await step("answerArrived", () =>
    waitFor(
      messages,
      (list) =>
        Array.isArray(list) &&
        list.some((m) => m.sender === "advisor" && (m.status ?? "complete") === "complete"),
      "the advisor's answer, complete",
      ANSWER_MS,
    ),
  );
  seen.answerStatuses = messages.updates
    .filter(Array.isArray)
    .map((list) => list.filter((m) => m.sender === "advisor").map((m) => m.status ?? null));

  // The original's chat action (its src/ has the call written but commented out, waiting
  // for this action): the question saved and the advisor's answer returned whole.
  await step("sendChatMessage", () =>
    client.action("chat:sendChatMessage", { conversationId, message: "And our burn rate?" }),
  );

  // ConversationHeader's handleSaveTitle.
  await step("updateConversation", () =>
    client.mutation("conversations:updateConversation", {
      conversationId,
      title: "Renamed runway talk",
    }),
  );
  await step("renamedShown", () =>
    waitFor(opened, (c) => c?.title === "Renamed runway talk", "the new title"),
  );
  await step("renamedListed", () =>
    waitFor(
      conversations,
      (list) =>
        Array.isArray(list) && list.some((c) => c._id === conversationId && c.title === "Renamed runway talk"),
      "the new title listed",
    ),
  );

  // The rail's delete, confirmed in DeleteConversationDialog.
  await step("deleteConversation", () =>
    client.mutation("conversations:deleteConversation", { conversationId }),
  );
  await step("deletedFromList", () =>
    waitFor(
      conversations,
      (list) => Array.isArray(list) && !list.some((c) => c._id === conversationId),
      "the conversation gone from the list",
    ),
  );
  seen.final = {
    currentUser: me ?? null,
    conversations: conversations.updates.at(-1) ?? null,
    conversation: opened.updates.find((c) => c?.title === "Renamed runway talk") ?? opened.updates.at(-1) ?? null,
    messages: messages.updates.at(-1) ?? null,
    typing: typing.updates,
  };
}

if (mode === "ws") await client.close();
// Exit once the output is flushed: a pipe takes it in 64 KiB pieces.
process.stdout.write(`${JSON.stringify(seen)}\n`, () => process.exit(0));
