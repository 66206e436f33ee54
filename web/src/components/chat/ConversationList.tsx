// The user's conversations, most recently active first, a page at a time.

import { usePaginatedQuery } from "convex/react";
import { Search } from "lucide-react";
import { useEffect, useMemo, useState } from "react";
import { Link } from "wouter";
import { api } from "../../lib/api";
import type { Advisor, BoardAdvisor, Conversation, Id } from "../../lib/api";
import { Failsafe } from "../Failsafe";
import { MessageSearch } from "./MessageSearch";
import { NewConversationDialog } from "./NewConversationDialog";

export const UNTITLED = "Untitled conversation";

type Props = { board: BoardAdvisor[] | undefined; currentId: Id | undefined };

export function ConversationList({ board, currentId }: Props) {
  const { results, status, loadMore } = usePaginatedQuery(
    api.conversations.getUserConversations,
    {},
    { initialNumItems: 30 },
  );
  const [search, setSearch] = useState("");
  const query = useSettled(search.trim());
  const byId = useMemo(() => new Map<Id, Conversation>(results.map((c) => [c._id, c])), [results]);
  const advisors = useMemo(
    () => new Map<Id, Advisor>((board ?? []).map((a) => [a._id, a])),
    [board],
  );
  return (
    <section className="rail-section" aria-labelledby="conversations-heading">
      <div className="rail-title-row">
        <h2 id="conversations-heading" className="rail-heading">
          Conversations
        </h2>
      </div>
      {board !== undefined && <NewConversationDialog board={board} />}
      <div className="search-box">
        <Search aria-hidden size={16} />
        <label htmlFor="message-search" className="visually-hidden">
          Search messages
        </label>
        <input
          id="message-search"
          type="search"
          placeholder="Search messages"
          value={search}
          maxLength={200}
          onChange={(e) => { setSearch(e.target.value); }}
        />
      </div>
      {query !== "" ? (
        <Failsafe key={query}>
          <MessageSearch query={query} conversations={byId} advisors={advisors} />
        </Failsafe>
      ) : status === "LoadingFirstPage" ? (
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
      {query === "" && status === "CanLoadMore" && (
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

const SETTLE_MS = 250; // search once typing pauses, not once per key

/** `value`, once it has stayed the same for SETTLE_MS (at once when cleared). */
function useSettled(value: string): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => {
      setSettled(value);
    }, value === "" ? 0 : SETTLE_MS);
    return () => {
      clearTimeout(timer);
    };
  }, [value]);
  return settled;
}
