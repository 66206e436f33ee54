// A new conversation: an optional title and the advisors who sit in it (all of the
// board, unless the user unticks some). Radix's Dialog gives focus trapping, Escape and
// the accessible name.

import * as Dialog from "@radix-ui/react-dialog";
import { useMutation } from "convex/react";
import { Plus } from "lucide-react";
import { useState } from "react";
import type { SyntheticEvent } from "react";
import { useLocation } from "wouter";
import { Avatar } from "../Avatar";
import { DialogFrame } from "../DialogFrame";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { BoardAdvisor, Id } from "../../lib/api";

export function NewConversationDialog({ board }: { board: BoardAdvisor[] }) {
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState("");
  const [chosen, setChosen] = useState<Set<Id> | null>(null); // null: the whole board
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = useMutation(api.conversations.createConversation);
  const [, navigate] = useLocation();
  const picked = chosen ?? new Set(board.map((a) => a._id));

  const toggle = (id: Id) => {
    const next = new Set(picked);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };

  async function submit(event: SyntheticEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const args: { title?: string; advisorIds: Id[] } = {
        advisorIds: board.filter((a) => picked.has(a._id)).map((a) => a._id),
      };
      if (title.trim() !== "") args.title = title.trim();
      const id = await create(args);
      setOpen(false);
      setTitle("");
      setChosen(null);
      navigate(`/chat/${id}`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog.Root open={open} onOpenChange={setOpen}>
      <Dialog.Trigger asChild>
        <button type="button" className="primary">
          <Plus aria-hidden size={16} />
          New conversation
        </button>
      </Dialog.Trigger>
      <DialogFrame className="dialog">
        <Dialog.Title className="dialog-title">New conversation</Dialog.Title>
        <Dialog.Description className="muted">
          Choose who sits in it. Mention anyone with @name, or everyone with @board.
        </Dialog.Description>
        <form onSubmit={(event) => void submit(event)} className="dialog-form">
          <label className="field">
            <span>Title (optional)</span>
            <input value={title} onChange={(e) => { setTitle(e.target.value); }} maxLength={200} />
          </label>
          <fieldset className="advisor-picker">
            <legend>Advisors</legend>
            {board.length === 0 && <p className="small">Your board is empty.</p>}
            {board.map((advisor) => (
              <label key={advisor._id} className="pick-row">
                <input
                  type="checkbox"
                  checked={picked.has(advisor._id)}
                  onChange={() => { toggle(advisor._id); }}
                />
                <Avatar name={advisor.persona.name} imageUrl={advisor.imageUrl} size={28} />
                <span>
                  {advisor.persona.name}
                  {advisor.persona.title !== undefined && (
                    <span className="muted small"> · {advisor.persona.title}</span>
                  )}
                </span>
              </label>
            ))}
          </fieldset>
          {error !== null && <ErrorNote error={error} />}
          <div className="dialog-actions">
            <Dialog.Close asChild>
              <button type="button">Cancel</button>
            </Dialog.Close>
            <button type="submit" className="primary" disabled={busy}>
              Start conversation
            </button>
          </div>
        </form>
      </DialogFrame>
    </Dialog.Root>
  );
}
