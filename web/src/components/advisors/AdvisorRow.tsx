// One of the user's own advisors: edit, put on (or take off) the board, archive (after a
// confirmation) and restore, delete (after a confirmation). An archived advisor is
// restored by setting its status back to active (updateAdvisor).

import { useMutation } from "convex/react";
import { Archive, ArchiveRestore, Check, Pencil, Plus, Trash2 } from "lucide-react";
import { useState } from "react";
import { Avatar } from "../Avatar";
import { ConfirmDialog } from "../ConfirmDialog";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import { advisorsApi } from "../../lib/api-advisors";
import type { CustomAdvisor } from "../../lib/api-advisors";

type Props = { advisor: CustomAdvisor; onBoard: boolean; onEdit: () => void };

export function AdvisorRow({ advisor, onBoard, onEdit }: Props) {
  const select = useMutation(api.marketplace.selectAdvisor);
  const unselect = useMutation(api.marketplace.unselectAdvisor);
  const archive = useMutation(advisorsApi.archiveAdvisor);
  const setStatus = useMutation(advisorsApi.setAdvisorStatus);
  const remove = useMutation(advisorsApi.deleteAdvisor);
  const [error, setError] = useState<unknown>(null);
  const [retry, setRetry] = useState<(() => void) | null>(null);
  const name = advisor.persona.name;
  const archived = advisor.status === "archived";

  const run = (action: () => Promise<unknown>) => {
    const attempt = async () => {
      setError(null);
      try {
        await action();
      } catch (failure) {
        setError(failure);
        setRetry(() => () => void attempt());
      }
    };
    void attempt();
  };

  return (
    <li className="advisor-row">
      <div className="advisor-row-main">
        <Avatar name={name} imageUrl={advisor.imageUrl} size={44} />
        <div className="advisor-row-text">
          <h3 className="advisor-row-name">{name}</h3>
          {advisor.persona.title !== "" && <p className="muted small">{advisor.persona.title}</p>}
          {advisor.persona.oneLiner !== undefined && <p className="small">{advisor.persona.oneLiner}</p>}
          <p className="advisor-badges">
            {onBoard && <span className="badge">On your board</span>}
            {archived && <span className="badge badge-quiet">Archived</span>}
          </p>
        </div>
      </div>
      <div className="advisor-row-actions">
        {!archived && (
          <button type="button" onClick={onEdit} aria-label={`Edit ${name}`} data-edit={advisor._id}>
            <Pencil aria-hidden size={16} />
            Edit
          </button>
        )}
        {(onBoard || !archived) && (
          <button
            type="button"
            onClick={() => { run(() => onBoard ? unselect({ advisorId: advisor._id }) : select({ advisorId: advisor._id })); }}
            aria-label={onBoard ? `Remove from board: ${name}` : `Add to board: ${name}`}
          >
            {onBoard ? <Check aria-hidden size={16} /> : <Plus aria-hidden size={16} />}
            {onBoard ? "Remove from board" : "Add to board"}
          </button>
        )}
        {archived && (
          <button
            type="button"
            onClick={() => { run(() => setStatus({ advisorId: advisor._id, status: "active" })); }}
            aria-label={`Restore ${name}`}
          >
            <ArchiveRestore aria-hidden size={16} />
            Restore
          </button>
        )}
        {!archived && (
          <ConfirmDialog
            trigger={
              <button type="button" aria-label={`Archive ${name}`}>
                <Archive aria-hidden size={16} />
                Archive
              </button>
            }
            title={`Archive “${name}”?`}
            description={
              <>
                An archived advisor moves to the Archived list and answers in no conversation;
                where it sits on your board, it stays. You can restore it from the Archived list
                at any time.
              </>
            }
            action="Archive advisor"
            onConfirm={() => { run(() => archive({ advisorId: advisor._id })); }}
          />
        )}
        <ConfirmDialog
          trigger={
            <button type="button" className="danger-outline" aria-label={`Delete ${name}`}>
              <Trash2 aria-hidden size={16} />
              Delete
            </button>
          }
          title={`Delete “${name}”?`}
          description={
            <>
              It is taken off your board and out of every conversation; the answers it gave
              stay in their conversations. This cannot be undone.
            </>
          }
          action="Delete advisor"
          onConfirm={() => { run(() => remove({ advisorId: advisor._id })); }}
        />
      </div>
      {error !== null && <ErrorNote error={error} onRetry={retry ?? undefined} />}
    </li>
  );
}
