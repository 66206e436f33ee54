// My advisors: the user's own advisors (create by form or persona file, edit, put on the
// board, archive and restore, delete) and the board they sit on beside the marketplace's.

import { useQuery } from "convex/react";
import { Plus } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Link } from "wouter";
import { AdvisorForm } from "../components/advisors/AdvisorForm";
import { AdvisorRow } from "../components/advisors/AdvisorRow";
import { UploadAdvisor } from "../components/advisors/UploadAdvisor";
import { Avatar } from "../components/Avatar";
import { api } from "../lib/api";
import { advisorsApi } from "../lib/api-advisors";
import type { CustomAdvisor } from "../lib/api-advisors";
import "../components/advisors/advisors.css";

type Editing = { kind: "closed" } | { kind: "new" } | { kind: "edit"; advisor: CustomAdvisor };

export function MyAdvisorsView() {
  const board = useQuery(api.marketplace.getUserSelectedAdvisors, {});
  const all = useQuery(advisorsApi.getAllAdvisors, {});
  const [editing, setEditing] = useState<Editing>({ kind: "closed" });
  const [saved, setSaved] = useState("");

  // Own advisors are the ones that are not public: getAllAdvisors answers the caller's
  // own in every status, so archived ones are listed apart, each with "Restore".
  const own = (all ?? []).filter((a) => a.isPublic !== true);
  const current = own.filter((a) => a.status !== "archived");
  const archived = own.filter((a) => a.status === "archived");
  const onBoard = new Set((board ?? []).map((a) => a._id));

  // Where focus goes back to when the form closes: the button that opened it.
  const opener = useRef<string | null>(null);
  const close = (message: string) => {
    opener.current = editing.kind === "edit" ? `[data-edit="${editing.advisor._id}"]` : "[data-create]";
    setEditing({ kind: "closed" });
    setSaved(message);
  };
  useEffect(() => {
    if (editing.kind !== "closed" || opener.current === null) return;
    const target = document.querySelector<HTMLElement>(opener.current);
    (target ?? document.querySelector<HTMLElement>("[data-create]"))?.focus();
    opener.current = null;
  }, [editing]);

  // The current and the archived advisors are listed alike, each list named by its heading.
  const rows = (advisors: CustomAdvisor[], labelledBy: string) => (
    <ul className="plain-list advisor-rows" aria-labelledby={labelledBy}>
      {advisors.map((advisor) => (
        <AdvisorRow
          key={advisor._id}
          advisor={advisor}
          onBoard={onBoard.has(advisor._id)}
          onEdit={() => {
            setSaved("");
            setEditing({ kind: "edit", advisor });
          }}
        />
      ))}
    </ul>
  );

  return (
    <section className="page my-advisors" aria-labelledby="my-advisors-heading">
      <h1 id="my-advisors-heading">My advisors</h1>
      {editing.kind !== "closed" ? (
        <AdvisorForm
          key={editing.kind === "edit" ? editing.advisor._id : "new"}
          advisor={editing.kind === "edit" ? editing.advisor : null}
          latest={editing.kind === "edit" ? own.find((a) => a._id === editing.advisor._id) : undefined}
          onDone={(name) => { close(`Saved ${name}.`); }}
          onCancel={() => { close(""); }}
        />
      ) : (
        <>
          <p className="muted">
            Advisors you make are yours alone: give them a persona, then put them on your board.
          </p>
          <div role="status" className="saved-note">
            {saved !== "" && <p className="ok-note">{saved}</p>}
          </div>
          <div className="my-advisors-tools">
            <button
              type="button"
              className="primary"
              data-create
              onClick={() => {
                setSaved("");
                setEditing({ kind: "new" });
              }}
            >
              <Plus aria-hidden size={16} />
              Create an advisor
            </button>
          </div>
          <UploadAdvisor />
          <section aria-labelledby="custom-heading">
            <h2 id="custom-heading" className="section-heading">
              Your custom advisors
            </h2>
            {all === undefined || board === undefined ? (
              <p role="status">Loading your advisors…</p>
            ) : current.length === 0 ? (
              <p>
                {archived.length === 0
                  ? "You have not made an advisor yet."
                  : "All your advisors are archived: restore one below, or create one."}
              </p>
            ) : (
              rows(current, "custom-heading")
            )}
          </section>
          {archived.length > 0 && board !== undefined && (
            <section aria-labelledby="archived-heading">
              <h2 id="archived-heading" className="section-heading">
                Archived
              </h2>
              <p className="muted small">
                An archived advisor answers in no conversation until you restore it.
              </p>
              {rows(archived, "archived-heading")}
            </section>
          )}
          <section aria-labelledby="board-list-heading">
            <h2 id="board-list-heading" className="section-heading">
              Your board
            </h2>
            {board === undefined ? (
              <p role="status">Loading your board…</p>
            ) : board.length === 0 ? (
              <p>
                Your board is empty. <Link href="/marketplace">Find advisors in the marketplace</Link>.
              </p>
            ) : (
              <ul className="plain-list" aria-labelledby="board-list-heading">
                {board.map((advisor) => (
                  <li key={advisor._id} className="list-row">
                    <Avatar name={advisor.persona.name} imageUrl={advisor.imageUrl} />
                    <div>
                      <div className="strong">{advisor.persona.name}</div>
                      {advisor.persona.title !== undefined && (
                        <div className="muted small">{advisor.persona.title}</div>
                      )}
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </section>
  );
}
