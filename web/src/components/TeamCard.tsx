// A team template: its name, tagline and advisors, and one click to add them all.

import { useMutation } from "convex/react";
import { Check, UsersRound } from "lucide-react";
import { useState } from "react";
import { Avatar } from "./Avatar";
import { ErrorNote } from "./ErrorNote";
import { api } from "../lib/api";
import type { Advisor, Id, TeamTemplate } from "../lib/api";

type Props = { team: TeamTemplate; advisors: Map<Id, Advisor>; selected: Set<Id> };

export function TeamCard({ team, advisors, selected }: Props) {
  const select = useMutation(api.marketplace.selectTeam);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const complete = team.advisorIds.every((id) => selected.has(id));
  const add = async () => {
    setError(null);
    setBusy(true);
    try {
      await select({ teamId: team.id });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className="card">
      <h3 className="card-title">{team.name}</h3>
      {team.tagline !== undefined && <p className="card-text">{team.tagline}</p>}
      <ul className="team-members" aria-label={`Advisors of ${team.name}`}>
        {team.advisorIds.map((id) => {
          const advisor = advisors.get(id);
          const name = advisor?.persona.name ?? "An advisor";
          return (
            <li key={id} className="team-member">
              <Avatar name={name} imageUrl={advisor?.imageUrl} size={24} />
              <span className="small">{name}</span>
            </li>
          );
        })}
      </ul>
      {complete ? (
        <p className="small team-done">
          <Check aria-hidden size={16} /> All on your board
        </p>
      ) : (
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() => void add()}
          aria-label={`Add the whole team: ${team.name}`}
        >
          <UsersRound aria-hidden size={16} />
          Add the whole team
        </button>
      )}
      {error !== null && <ErrorNote error={error} onRetry={() => void add()} />}
    </li>
  );
}
