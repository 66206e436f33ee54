// The user's board as the marketplace builds it: who sits on it now, so adding or
// removing an advisor (or a whole team) visibly changes it.

import { Avatar } from "../Avatar";
import type { BoardAdvisor } from "../../lib/api";

export function BoardStrip({ board }: { board: BoardAdvisor[] | undefined }) {
  return (
    <section className="board-strip" aria-labelledby="market-board-heading">
      <h2 id="market-board-heading" className="rail-heading">
        Your board{board !== undefined && ` (${board.length})`}
      </h2>
      {board === undefined ? (
        <p role="status">Loading your board…</p>
      ) : board.length === 0 ? (
        <p className="small">Nobody yet: add advisors or a whole team below.</p>
      ) : (
        <ul className="board-strip-list" aria-label="Advisors on your board">
          {board.map((advisor) => (
            <li key={advisor._id} className="board-strip-item">
              <Avatar name={advisor.persona.name} imageUrl={advisor.imageUrl} size={28} />
              <span>{advisor.persona.name}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
