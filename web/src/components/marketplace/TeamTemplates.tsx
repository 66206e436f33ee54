// Team templates: each shows who it brings (name and role, and who is already on the
// board), and one click adds the whole team; what was added is then said in words, and
// the board (a live query) shows them.

import { useMutation, useQuery } from "convex/react";
import { UsersRound } from "lucide-react";
import { useState } from "react";
import { Avatar } from "../Avatar";
import { ErrorNote } from "../ErrorNote";
import { Failsafe } from "../Failsafe";
import { marketApi } from "../../lib/api-marketplace";
import type { TeamTemplate } from "../../lib/api-marketplace";
import type { BoardAdvisor } from "../../lib/api";

type Props = { board: BoardAdvisor[] | undefined };

export function TeamTemplates({ board }: Props) {
  const teams = useQuery(marketApi.getTeamTemplates, {});
  const onBoard = new Set((board ?? []).map((advisor) => advisor._id));
  if (teams === undefined) return <p role="status">Loading teams…</p>;
  if (teams.length === 0) return null;
  return (
    <ul className="card-grid team-grid" aria-label="Team templates">
      {teams.map((team) => (
        <TeamCard key={team._id} team={team} onBoard={onBoard} boardLoaded={board !== undefined} />
      ))}
    </ul>
  );
}

function TeamCard({
  team,
  onBoard,
  boardLoaded,
}: {
  team: TeamTemplate;
  onBoard: Set<string>;
  boardLoaded: boolean;
}) {
  const selectTeam = useMutation(marketApi.selectTeam);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<number | null>(null);
  const roles = new Map((team.advisorRoles ?? []).map((role) => [role.advisorId, role.roleName]));
  const missing = team.advisorIds.filter((id) => !onBoard.has(id)).length;
  const headingId = `team-${team.id}`;

  const addTeam = async () => {
    setError(null);
    setBusy(true);
    try {
      const rows = await selectTeam({ teamId: team.id });
      setAdded(rows.length);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="card team-card" aria-labelledby={headingId}>
      <div className="card-head">
        <span className="team-icon" aria-hidden>
          {team.icon ?? <UsersRound size={22} />}
        </span>
        <div>
          <h3 className="card-title" id={headingId}>
            {team.name}
          </h3>
          <p className="muted small">{team.category}</p>
        </div>
      </div>
      <p className="card-text">{team.tagline ?? team.description}</p>
      <ul className="plain-list team-members" aria-label={`Advisors in ${team.name}`}>
        {team.advisorIds.map((id) => (
          <Failsafe key={id} fallback={<></>}>
            <TeamMember advisorId={id} role={roles.get(id)} onBoard={onBoard.has(id)} />
          </Failsafe>
        ))}
      </ul>
      <button
        type="button"
        className={missing === 0 && boardLoaded ? undefined : "primary"}
        onClick={() => void addTeam()}
        disabled={busy || !boardLoaded || missing === 0}
        aria-label={`Add the whole team: ${team.name}`}
      >
        <UsersRound aria-hidden size={16} />
        {missing === 0 && boardLoaded ? "Whole team on your board" : "Add the whole team"}
      </button>
      <p className="small" role="status">
        {added === null
          ? ""
          : added === 0
            ? "Everyone in this team was already on your board."
            : `Added ${added === 1 ? "1 advisor" : `${added} advisors`} to your board.`}
      </p>
      {error !== null && <ErrorNote error={error} onRetry={() => void addTeam()} />}
    </li>
  );
}

function TeamMember({
  advisorId,
  role,
  onBoard,
}: {
  advisorId: string;
  role: string | undefined;
  onBoard: boolean;
}) {
  const advisor = useQuery(marketApi.getAdvisorById, { advisorId });
  if (advisor === undefined) return <li className="small muted">Loading…</li>;
  const name = advisor.persona.name;
  return (
    <li className="list-row team-member">
      <Avatar name={name} imageUrl={advisor.imageUrl} size={28} />
      <span className="board-text">
        <span className="strong team-member-name">{name}</span>
        {role !== undefined && <span className="muted small team-member-role">{role}</span>}
      </span>
      {onBoard && <span className="badge badge-quiet">On your board</span>}
    </li>
  );
}
