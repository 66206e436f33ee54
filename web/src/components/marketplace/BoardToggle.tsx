// One click puts an advisor on the user's board, or takes them off it; a failure is
// shown in words with a retry. The board (a live query) decides which it is, so every
// card, the profile and the chat's rail change together.

import { useMutation } from "convex/react";
import { Check, Plus } from "lucide-react";
import { useState } from "react";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { Id } from "../../lib/api";

type Props = { advisorId: Id; name: string; onBoard: boolean };

export function BoardToggle({ advisorId, name, onBoard }: Props) {
  const select = useMutation(api.marketplace.selectAdvisor);
  const unselect = useMutation(api.marketplace.unselectAdvisor);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setError(null);
    setBusy(true);
    try {
      if (onBoard) await unselect({ advisorId });
      else await select({ advisorId });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className={onBoard ? "secondary" : "primary"}
        onClick={() => void toggle()}
        disabled={busy}
        aria-label={onBoard ? `Remove from board: ${name}` : `Add to board: ${name}`}
      >
        {onBoard ? <Check aria-hidden size={16} /> : <Plus aria-hidden size={16} />}
        {onBoard ? "Remove from board" : "Add to board"}
      </button>
      {error !== null && <ErrorNote error={error} onRetry={() => void toggle()} />}
    </>
  );
}
