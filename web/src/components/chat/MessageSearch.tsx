// Search across the user's messages (messages:searchMessages: every word, the last as
// a prefix, best match first). Each result opens its conversation.

import { useQuery } from "convex/react";
import { Link } from "wouter";
import { api } from "../../lib/api";
import type { Advisor, Conversation, Id } from "../../lib/api";

const SNIPPET = 140; // characters of a found message shown

type Props = {
  query: string;
  conversations: Map<Id, Conversation>;
  advisors: Map<Id, Advisor>;
};

export function MessageSearch({ query, conversations, advisors }: Props) {
  const found = useQuery(api.messages.searchMessages, { query, limit: 20 });
  if (found === undefined) {
    return <p role="status">Searching…</p>;
  }
  return (
    <>
      <p role="status" className="small muted">
        {found.length === 0
          ? `No messages match “${query}”.`
          : `${found.length} message${found.length === 1 ? "" : "s"} found`}
      </p>
      <ul className="plain-list search-results" aria-label="Messages found">
        {found.map((message) => {
          const title = conversations.get(message.conversationId)?.title ?? "A conversation";
          const who =
            message.sender === "user"
              ? "You"
              : message.sender === "system"
                ? "Notice"
                : (advisors.get(message.advisorId ?? "")?.persona.name ?? "An advisor");
          const text =
            message.content.length > SNIPPET ? `${message.content.slice(0, SNIPPET)}…` : message.content;
          return (
            <li key={message._id}>
              <Link href={`/chat/${message.conversationId}`} className="search-result">
                <span className="small muted">
                  {who} in {title}
                </span>
                <span className="search-snippet">{text}</span>
              </Link>
            </li>
          );
        })}
      </ul>
    </>
  );
}
