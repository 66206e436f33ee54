// A conversation's title with rename and delete (after a confirmation: deleting takes its
// messages, memories and summaries with it). A new title shows at once (optimistic.ts).

import { useMutation } from "convex/react";
import { Pencil, Trash2 } from "lucide-react";
import { useState } from "react";
import type { SyntheticEvent } from "react";
import { useLocation } from "wouter";
import { ConfirmDialog } from "../ConfirmDialog";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { Conversation } from "../../lib/api";
import { UNTITLED } from "./ConversationList";
import { MemoryPanel } from "../context/MemoryPanel";
import { showRename } from "./optimistic";

export function ConversationHeader({ conversation }: { conversation: Conversation }) {
  const update = useMutation(api.conversations.updateConversation).withOptimisticUpdate(showRename);
  const remove = useMutation(api.conversations.deleteConversation);
  const [, navigate] = useLocation();
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState("");
  const [error, setError] = useState<unknown>(null);
  const shown = conversation.title ?? UNTITLED;

  async function rename(event: SyntheticEvent) {
    event.preventDefault();
    setError(null);
    try {
      const trimmed = title.trim();
      await update({ conversationId: conversation._id, title: trimmed === "" ? null : trimmed });
      setEditing(false);
    } catch (failure) {
      setError(failure);
    }
  }

  async function confirmDelete() {
    setError(null);
    try {
      await remove({ conversationId: conversation._id });
      navigate("/");
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <header className="conversation-header">
      {editing ? (
        <form className="rename-form" onSubmit={(event) => void rename(event)}>
          <label className="visually-hidden" htmlFor="rename-input">
            Conversation title
          </label>
          <input
            id="rename-input"
            value={title}
            onChange={(e) => { setTitle(e.target.value); }}
            maxLength={200}
            autoFocus
            onKeyDown={(e) => {
              if (e.key === "Escape") setEditing(false);
            }}
          />
          <button type="submit" className="primary">
            Save
          </button>
          <button type="button" onClick={() => { setEditing(false); }}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <h1 className="conversation-heading">{shown}</h1>
          <div className="header-actions">
            <MemoryPanel conversationId={conversation._id} />
            <button
              type="button"
              className="icon-button"
              aria-label="Rename conversation"
              title="Rename conversation"
              onClick={() => {
                setTitle(conversation.title ?? "");
                setEditing(true);
              }}
            >
              <Pencil aria-hidden size={18} />
            </button>
            <ConfirmDialog
              trigger={
                <button
                  type="button"
                  className="icon-button"
                  aria-label="Delete conversation"
                  title="Delete conversation"
                >
                  <Trash2 aria-hidden size={18} />
                </button>
              }
              title={<>Delete “{shown}”?</>}
              description={
                <>
                  Its messages, memories and summaries are deleted with it. This cannot be
                  undone.
                </>
              }
              action="Delete conversation"
              onConfirm={() => void confirmDelete()}
            />
          </div>
        </>
      )}
      {error !== null && <ErrorNote error={error} />}
    </header>
  );
}
