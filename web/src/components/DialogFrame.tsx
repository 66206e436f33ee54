// The frame every Radix dialog here shares: overlay, content (focus kept inside, Escape
// closes) and the corner close button. The caller keeps Dialog.Root and any trigger.

import * as Dialog from "@radix-ui/react-dialog";
import { X } from "lucide-react";
import type { ComponentPropsWithoutRef } from "react";

type Props = ComponentPropsWithoutRef<typeof Dialog.Content> & {
  closeLabel?: string; // the close button's accessible name
};

export function DialogFrame({ children, closeLabel = "Close", ...content }: Props) {
  return (
    <Dialog.Portal>
      <Dialog.Overlay className="dialog-overlay" />
      <Dialog.Content {...content}>
        {children}
        <Dialog.Close asChild>
          <button type="button" className="icon-button dialog-x" aria-label={closeLabel}>
            <X aria-hidden size={18} />
          </button>
        </Dialog.Close>
      </Dialog.Content>
    </Dialog.Portal>
  );
}
