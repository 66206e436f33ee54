// The chat view: the board's rail beside the conversation.

import { useQuery } from "convex/react";
import { Link } from "wouter";
import { Avatar } from "../components/Avatar";
import { api } from "../lib/api";

export function ChatView() {
  const board = useQuery(api.marketplace.getUserSelectedAdvisors, {});
  return (
    <div className="chat-layout">
      <aside className="rail" aria-label="Your board">
        <h2 className="rail-heading">Your board</h2>
        {board === undefined ? (
          <p role="status">Loading…</p>
        ) : (
          <ul className="plain-list">
            {board.map((advisor) => (
              <li key={advisor._id} className="list-row">
                <Avatar name={advisor.persona.name} imageUrl={advisor.imageUrl} size={32} />
                <div>
                  <div className="strong">{advisor.persona.name}</div>
                  <div className="muted small">{advisor.persona.title}</div>
                </div>
              </li>
            ))}
          </ul>
        )}
      </aside>
      <section className="conversation" aria-labelledby="chat-heading">
        <h1 id="chat-heading">Chat</h1>
        {board?.length === 0 && (
          <p>
            Your board is empty. <Link href="/marketplace">Add advisors from the marketplace</Link>{" "}
            to start a conversation.
          </p>
        )}
      </section>
    </div>
  );
}
