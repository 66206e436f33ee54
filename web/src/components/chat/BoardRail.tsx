// The user's board down the side: each advisor's avatar, name and title; in a
// conversation, its advisors are marked as present and its active advisor (who answers
// when no one is mentioned) as active.

import { Link } from "wouter";
import { Avatar } from "../Avatar";
import type { BoardAdvisor, Conversation } from "../../lib/api";

type Props = { board: BoardAdvisor[] | undefined; conversation: Conversation | undefined };

export function BoardRail({ board, conversation }: Props) {
  return (
    <section className="rail-section" aria-labelledby="board-heading">
      <h2 id="board-heading" className="rail-heading">
        Your board
      </h2>
      {board === undefined ? (
        <p role="status">Loading…</p>
      ) : board.length === 0 ? (
        <p className="small">
          No advisors yet. <Link href="/marketplace">Add some from the marketplace</Link>.
        </p>
      ) : (
        <ul className="plain-list" aria-label="Advisors on your board">
          {board.map((advisor) => {
            const active = conversation?.activeAdvisorId === advisor._id;
            const here = conversation?.advisorIds?.includes(advisor._id) ?? false;
            return (
              <li key={advisor._id} className={`list-row board-row${active ? " is-active" : ""}`}>
                <Avatar name={advisor.persona.name} imageUrl={advisor.imageUrl} size={32} />
                <div className="board-text">
                  <div className="strong">{advisor.persona.name}</div>
                  <div className="muted small">{advisor.persona.title}</div>
                </div>
                {active ? (
                  <span className="badge">Active</span>
                ) : here ? (
                  <span className="badge badge-quiet">In this chat</span>
                ) : null}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
