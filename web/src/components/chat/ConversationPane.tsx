// One open conversation: its header, its messages (newest first, a page at a time) and
// the composer, which offers Stop while any answer is being written.

import { usePaginatedQuery, useQuery } from "convex/react";
import { useState } from "react";
import { api } from "../../lib/api";
import { useServerConfig } from "../../lib/config";
import type { Advisor, Id } from "../../lib/api";
import { Composer } from "./Composer";
import { ConversationHeader } from "./ConversationHeader";
import { MessageList, PAGE } from "./MessageList";

const DEFAULT_TYPING_EXPIRY_MS = 10_000; // the server's default, until it says its own

type Props = { conversationId: Id; advisors: Map<Id, Advisor> };

export function ConversationPane({ conversationId, advisors }: Props) {
  const config = useServerConfig();
  const [drafting, setDrafting] = useState(false);
  const typing = useQuery(api.realtime.getTypingUsers, { conversationId });
  const conversation = useQuery(api.conversations.getConversationById, { conversationId });
  const messages = usePaginatedQuery(
    api.messages.getConversationMessages,
    { conversationId, order: "desc" },
    { initialNumItems: PAGE },
  );
  if (conversation === undefined) {
    return (
      <p role="status" className="muted center">
        Loading conversation…
      </p>
    );
  }
  const answering = messages.results.some((m) => m.status === "streaming");
  // The server's expiry, read off an indicator (this tab's own, once it reports typing).
  const shown = typing?.[0];
  const typingExpiryMs = shown === undefined ? DEFAULT_TYPING_EXPIRY_MS : shown.expiresAt - shown.lastTypingAt;
  // Who can be mentioned: the conversation's advisors first, then the rest of the board
  // (mentioning one adds them to the conversation).
  const here = conversation.advisorIds ?? [];
  const mentionable = [
    ...here.flatMap((id) => advisors.get(id) ?? []),
    ...[...advisors.values()].filter((advisor) => !here.includes(advisor._id)),
  ];
  return (
    <>
      <ConversationHeader conversation={conversation} />
      {config?.model.embedded === true && (
        <p className="model-note">
          Answers here come from a small offline model that runs inside the server: fine for
          a try, not for real advice. To use a real model, the server&apos;s operator sets
          OPENAI_BASE_URL and/or OPENAI_API_KEY (any OpenAI-compatible provider).
        </p>
      )}
      <MessageList
        results={messages.results}
        status={messages.status}
        loadMore={messages.loadMore}
        advisors={advisors}
      />
      <p className="typing-note small muted" aria-live="polite">
        {/* The indicators are the user's own: one shown here comes from another tab or device. */}
        {!drafting && (typing?.length ?? 0) > 0 ? "You are writing in another tab or device…" : ""}
      </p>
      <Composer
        key={conversationId}
        conversationId={conversationId}
        answering={answering}
        advisors={mentionable}
        typingExpiryMs={typingExpiryMs}
        onDrafting={setDrafting}
      />
    </>
  );
}
