// An advisor in the marketplace: who they are in a line, their category and tags, their
// profile one click away, and the board toggle.

import { Avatar } from "../Avatar";
import { BoardToggle } from "./BoardToggle";
import type { MarketAdvisor } from "../../lib/api-marketplace";

type Props = {
  advisor: MarketAdvisor;
  onBoard: boolean;
  onOpenProfile: (advisor: MarketAdvisor) => void;
};

export function AdvisorCard({ advisor, onBoard, onOpenProfile }: Props) {
  const { name, title, oneLiner } = advisor.persona;
  const tags = advisor.tags.filter((tag) => tag !== advisor.category).slice(0, 4);
  return (
    <li className="card market-card">
      <div className="card-head">
        <Avatar name={name} imageUrl={advisor.imageUrl} size={44} />
        <div>
          <h3 className="card-title">{name}</h3>
          {title !== undefined && <p className="muted small">{title}</p>}
        </div>
      </div>
      {oneLiner !== undefined && <p className="card-text">{oneLiner}</p>}
      {(advisor.category !== undefined || tags.length > 0) && (
        <ul className="chip-list" aria-label={`About ${name}`}>
          {advisor.category !== undefined && (
            <li className="chip chip-category">{advisor.category}</li>
          )}
          {tags.map((tag) => (
            <li key={tag} className="chip">
              {tag}
            </li>
          ))}
        </ul>
      )}
      <div className="card-actions">
        <button
          type="button"
          aria-haspopup="dialog"
          aria-label={`View profile: ${name}`}
          onClick={() => { onOpenProfile(advisor); }}
        >
          Profile
        </button>
        <BoardToggle advisorId={advisor._id} name={name} onBoard={onBoard} />
      </div>
    </li>
  );
}

export function AdvisorGrid({
  advisors,
  board,
  onOpenProfile,
  label,
}: {
  advisors: MarketAdvisor[];
  board: Set<string>;
  onOpenProfile: (advisor: MarketAdvisor) => void;
  label: string;
}) {
  return (
    <ul className="card-grid" aria-label={label}>
      {advisors.map((advisor) => (
        <AdvisorCard
          key={advisor._id}
          advisor={advisor}
          onBoard={board.has(advisor._id)}
          onOpenProfile={onOpenProfile}
        />
      ))}
    </ul>
  );
}
