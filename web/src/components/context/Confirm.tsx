// A destructive action behind a confirmation (Radix AlertDialog: focus kept inside,
// Escape cancels). A failure shows in words beside the trigger, with a retry.

import * as AlertDialog from "@radix-ui/react-alert-dialog";
import { useState } from "react";
import type { ReactNode } from "react";
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
      <AlertDialog.Root>
        <AlertDialog.Trigger asChild>
          <button type="button" className={className ?? "icon-button"} aria-label={label} title={label}>
            {trigger}
          </button>
        </AlertDialog.Trigger>
        <AlertDialog.Portal>
          <AlertDialog.Overlay className="dialog-overlay" />
          <AlertDialog.Content className="dialog">
            <AlertDialog.Title className="dialog-title">{title}</AlertDialog.Title>
            <AlertDialog.Description>{description}</AlertDialog.Description>
            <div className="dialog-actions">
              <AlertDialog.Cancel asChild>
                <button type="button">Keep it</button>
              </AlertDialog.Cancel>
              <AlertDialog.Action asChild>
                <button type="button" className="danger" onClick={() => void run()}>
                  {confirm}
                </button>
              </AlertDialog.Action>
            </div>
          </AlertDialog.Content>
        </AlertDialog.Portal>
      </AlertDialog.Root>
      {error !== null && <ErrorNote error={error} onRetry={() => void run()} />}
    </>
  );
}
