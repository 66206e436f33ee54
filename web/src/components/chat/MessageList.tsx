// The conversation's messages, newest first from the server (order "desc"), laid out
// bottom-up (column-reverse): new messages and streaming text stay in view, and older
// pages load when the top comes into view (or by the button, for the keyboard).

import { useEffect, useMemo, useRef } from "react";
import type { Advisor, Id, Message } from "../../lib/api";
import { MessageItem } from "./MessageItem";

export const PAGE = 30;

type Props = {
  results: Message[];
  status: "LoadingFirstPage" | "CanLoadMore" | "LoadingMore" | "Exhausted";
  loadMore: (numItems: number) => void;
  advisors: Map<Id, Advisor>;
};

export function MessageList({ results, status, loadMore, advisors }: Props) {
  const top = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const sentinel = top.current;
    if (sentinel === null || status !== "CanLoadMore") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore(PAGE);
    });
    observer.observe(sentinel);
    return () => {
      observer.disconnect();
    };
  }, [status, loadMore]);

  // Said politely to screen readers: who is answering, then who answered (not each token).
  const announcement = useMemo(() => {
    const latest = results.find((m) => m.sender === "advisor");
    if (latest === undefined) return "";
    const name = (id: Id | undefined) => (id === undefined ? undefined : advisors.get(id)?.persona.name) ?? "An advisor";
    const streaming = results.filter((m) => m.status === "streaming");
    if (streaming.length > 0) return `${streaming.map((m) => name(m.advisorId)).join(", ")} answering…`;
    if (latest.status === "complete") return `${name(latest.advisorId)} answered.`;
    if (latest.status === "stopped") return `${name(latest.advisorId)}'s answer was stopped.`;
    if (latest.status === "error") return `${name(latest.advisorId)}'s answer failed.`;
    return "";
  }, [results, advisors]);

  return (
    <div className="message-scroller">
      <div className="visually-hidden" aria-live="polite">
        {announcement}
      </div>
      {status === "LoadingFirstPage" ? (
        <p role="status" className="muted center">
          Loading messages…
        </p>
      ) : results.length === 0 ? (
        <p className="muted center">No messages yet. Say hello to your board.</p>
      ) : (
        <ol className="message-list" aria-label="Messages">
          {results.map((message) => (
            <MessageItem
              key={message._id}
              message={message}
              advisor={message.advisorId === undefined ? undefined : advisors.get(message.advisorId)}
            />
          ))}
        </ol>
      )}
      <div ref={top} className="history-edge">
        {status === "CanLoadMore" && (
          <button type="button" onClick={() => { loadMore(PAGE); }}>
            Load earlier messages
          </button>
        )}
        {status === "LoadingMore" && <span role="status">Loading earlier messages…</span>}
      </div>
    </div>
  );
}
