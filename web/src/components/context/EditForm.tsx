// The in-place edit form of a memory or a summary: its fields, the problem with the last
// attempt (which the fields point at via problemId), Save and Cancel. Escape cancels the
// edit and stops there, so the panel around it stays open.

import type { ReactNode, SyntheticEvent } from "react";
import { ErrorNote } from "../ErrorNote";

type Props = {
  label: string; // the form's accessible name
  problem: unknown;
  problemId: string;
  busy: boolean;
  onSubmit: (event: SyntheticEvent) => Promise<void>;
  onCancel: () => void;
  children: ReactNode; // the fields
};

export function EditForm({ label, problem, problemId, busy, onSubmit, onCancel, children }: Props) {
  return (
    <form
      className="memory-form"
      aria-label={label}
      onSubmit={(event) => void onSubmit(event)}
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation(); // closes the edit, not the panel
          onCancel();
        }
      }}
    >
      {children}
      {problem !== null && (
        <div id={problemId}>
          <ErrorNote error={problem} />
        </div>
      )}
      <div className="memory-actions">
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
