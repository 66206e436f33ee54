// The user's conversations, most recently active first, a page at a time.

import { usePaginatedQuery } from "convex/react";
import { Link } from "wouter";
import { api } from "../../lib/api";
import type { BoardAdvisor, Id } from "../../lib/api";
import { NewConversationDialog } from "./NewConversationDialog";

export const UNTITLED = "Untitled conversation";

type Props = { board: BoardAdvisor[] | undefined; currentId: Id | undefined };

export function ConversationList({ board, currentId }: Props) {
  const { results, status, loadMore } = usePaginatedQuery(
    api.conversations.getUserConversations,
    {},
    { initialNumItems: 30 },
  );
  return (
    <section className="rail-section" aria-labelledby="conversations-heading">
      <div className="rail-title-row">
        <h2 id="conversations-heading" className="rail-heading">
          Conversations
        </h2>
      </div>
      {board !== undefined && <NewConversationDialog board={board} />}
      {status === "LoadingFirstPage" ? (
        <p role="status">Loading…</p>
      ) : results.length === 0 ? (
        <p className="small muted">No conversations yet.</p>
      ) : (
        <ul className="plain-list conversation-list">
          {results.map((conversation) => (
            <li key={conversation._id}>
              <Link
                href={`/chat/${conversation._id}`}
                className="conversation-link"
                aria-current={conversation._id === currentId ? "page" : undefined}
              >
                <span className="conversation-title">{conversation.title ?? UNTITLED}</span>
                <time className="muted small" dateTime={new Date(conversation.updatedAt).toISOString()}>
                  {when(conversation.updatedAt)}
                </time>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {status === "CanLoadMore" && (
        <button type="button" onClick={() => { loadMore(30); }}>
          Show older conversations
        </button>
      )}
    </section>
  );
}

function when(ms: number): string {
  const date = new Date(ms);
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}
