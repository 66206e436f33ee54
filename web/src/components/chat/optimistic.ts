// Optimistic updates: what a mutation will change is shown at once, in the client's own
// copy of the queries, and replaced by the server's copy when the mutation's result
// arrives (Convex drops the guess then, or when the mutation fails: nothing to undo here).

import { insertAtTop, optimisticallyUpdateValueInPaginatedQuery } from "convex/react";
import type { OptimisticLocalStore } from "convex/browser";
import { api } from "../../lib/api";
import type { Id, Message } from "../../lib/api";

const PENDING = "pending:";
let sequence = 0;

/** A message the server does not have yet: shown as sending until its copy arrives. */
export const isPending = (message: Message) => message._id.startsWith(PENDING);

/** `messages:sendMessage`'s guess: the user's message on top of the newest-first list. */
export function showSentMessage(
  store: OptimisticLocalStore,
  args: { conversationId: Id; content: string },
) {
  const now = Date.now();
  sequence += 1;
  insertAtTop({
    paginatedQuery: api.messages.getConversationMessages,
    argsToMatch: { conversationId: args.conversationId, order: "desc" },
    localQueryStore: store,
    item: {
      _id: `${PENDING}${now}-${sequence}`,
      _creationTime: now,
      conversationId: args.conversationId,
      sender: "user",
      content: args.content,
      mentions: [],
      createdAt: now,
    },
  });
}

/** `conversations:updateConversation`'s guess: the new title in the list and the header. */
export function showRename(
  store: OptimisticLocalStore,
  args: { conversationId: Id; title?: string | null },
) {
  if (!("title" in args)) return;
  const title = args.title ?? undefined;
  const retitled = <T extends { _id: Id; title?: string }>(conversation: T): T =>
    conversation._id === args.conversationId ? { ...conversation, title } : conversation;
  optimisticallyUpdateValueInPaginatedQuery(store, api.conversations.getUserConversations, {}, retitled);
  const byId = { conversationId: args.conversationId };
  const shown = store.getQuery(api.conversations.getConversationById, byId);
  if (shown !== undefined) store.setQuery(api.conversations.getConversationById, byId, retitled(shown));
}
