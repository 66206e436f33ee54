// A destructive action behind an icon button and a confirmation (ConfirmDialog). A
// failure shows in words beside the trigger, with a retry.

import { useState } from "react";
import type { ReactNode } from "react";
import { ConfirmDialog } from "../ConfirmDialog";
import { ErrorNote } from "../ErrorNote";

type Props = {
  trigger: ReactNode; // the button's content
  label: string; // the button's accessible name
  title: string;
  description: string;
  confirm: string; // the confirming button's text
  onConfirm: () => Promise<unknown>;
  className?: string;
};

export function Confirm({ trigger, label, title, description, confirm, onConfirm, className }: Props) {
  const [error, setError] = useState<unknown>(null);

  async function run() {
    setError(null);
    try {
      await onConfirm();
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <>
      <ConfirmDialog
        trigger={
          <button type="button" className={className ?? "icon-button"} aria-label={label} title={label}>
            {trigger}
          </button>
        }
        title={title}
        description={description}
        action={confirm}
        onConfirm={() => void run()}
      />
      {error !== null && <ErrorNote error={error} onRetry={() => void run()} />}
    </>
  );
}
