// The one confirmation dialog for destructive actions (Radix AlertDialog: focus kept
// inside, Escape or "Keep it" cancels). The caller supplies the trigger button and decides
// what a failure looks like.

import * as AlertDialog from "@radix-ui/react-alert-dialog";
import type { ReactNode } from "react";

type Props = {
  trigger: ReactNode; // a single button, opened by Radix (asChild)
  title: ReactNode;
  description: ReactNode;
  action: string; // the confirming button's text
  onConfirm: () => void;
};

export function ConfirmDialog({ trigger, title, description, action, onConfirm }: Props) {
  return (
    <AlertDialog.Root>
      <AlertDialog.Trigger asChild>{trigger}</AlertDialog.Trigger>
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
              <button type="button" className="danger" onClick={onConfirm}>
                {action}
              </button>
            </AlertDialog.Action>
          </div>
        </AlertDialog.Content>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
