// Public advisors, a page at a time, each with one-click add to (or remove from) the
// user's board.

import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { Check, Plus } from "lucide-react";
import { useState } from "react";
import { Avatar } from "../components/Avatar";
import { ErrorNote } from "../components/ErrorNote";
import { api } from "../lib/api";
import type { Advisor, Id } from "../lib/api";
import { TeamCard } from "../components/TeamCard";

export function MarketplaceView() {
  const { results, status, loadMore } = usePaginatedQuery(
    api.marketplace.getMarketplaceAdvisors,
    {},
    { initialNumItems: 24 },
  );
  const board = useQuery(api.marketplace.getUserSelectedAdvisors, {});
  const teams = useQuery(api.teams.getTeamTemplates, {});
  const selected = new Set((board ?? []).map((advisor) => advisor._id));
  const byId = new Map<Id, Advisor>([...results, ...(board ?? [])].map((a) => [a._id, a]));
  return (
    <section className="page" aria-labelledby="marketplace-heading">
      <h1 id="marketplace-heading">Marketplace</h1>
      <p className="muted">Choose the advisors who sit on your board, one by one or as a team.</p>
      {teams !== undefined && teams.length > 0 && (
        <section aria-labelledby="teams-heading">
          <h2 id="teams-heading" className="section-heading">
            Teams
          </h2>
          <ul className="card-grid">
            {teams.map((team) => (
              <TeamCard key={team._id} team={team} advisors={byId} selected={selected} />
            ))}
          </ul>
        </section>
      )}
      <h2 className="section-heading">Advisors</h2>
      {status === "LoadingFirstPage" ? (
        <p role="status">Loading advisors…</p>
      ) : (
        <ul className="card-grid">
          {results.map((advisor) => (
            <AdvisorCard key={advisor._id} advisor={advisor} onBoard={selected.has(advisor._id)} />
          ))}
        </ul>
      )}
      {status === "CanLoadMore" && (
        <button type="button" onClick={() => { loadMore(24); }}>
          Show more advisors
        </button>
      )}
    </section>
  );
}

function AdvisorCard({ advisor, onBoard }: { advisor: Advisor; onBoard: boolean }) {
  const select = useMutation(api.marketplace.selectAdvisor);
  const unselect = useMutation(api.marketplace.unselectAdvisor);
  const [error, setError] = useState<unknown>(null);
  const name = advisor.persona.name;
  const toggle = async () => {
    setError(null);
    try {
      if (onBoard) await unselect({ advisorId: advisor._id });
      else await select({ advisorId: advisor._id });
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <li className="card">
      <div className="card-head">
        <Avatar name={name} imageUrl={advisor.imageUrl} size={44} />
        <div>
          <h3 className="card-title">{name}</h3>
          {advisor.persona.title !== undefined && <p className="muted small">{advisor.persona.title}</p>}
        </div>
      </div>
      {advisor.persona.oneLiner !== undefined && <p className="card-text">{advisor.persona.oneLiner}</p>}
      <button
        type="button"
        className={onBoard ? "secondary" : "primary"}
        onClick={() => void toggle()}
        aria-label={onBoard ? `Remove from board: ${name}` : `Add to board: ${name}`}
      >
        {onBoard ? <Check aria-hidden size={16} /> : <Plus aria-hidden size={16} />}
        {onBoard ? "Remove from board" : "Add to board"}
      </button>
      {error !== null && <ErrorNote error={error} onRetry={() => void toggle()} />}
    </li>
  );
}
