// One thing an advisor remembers: its key and value, edited in place. A failed save keeps
// what was typed and says why beside the fields; Cancel or Escape puts the value back.

import { useMutation } from "convex/react";
import { Pencil, Trash2 } from "lucide-react";
import { useId, useState } from "react";
import type { SyntheticEvent } from "react";
import { memoryApi } from "../../lib/api-memory";
import type { Memory } from "../../lib/api-memory";
import { Confirm } from "./Confirm";
import { EditForm } from "./EditForm";

const KEY_MAX = 200; // the server's limit on a key

/** A value as the user reads and edits it: strings as they are, anything else as JSON. */
export function valueText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

type Props = { memory: Memory; advisorName: string; takenKeys: string[] };

export function MemoryItem({ memory, advisorName, takenKeys }: Props) {
  const save = useMutation(memoryApi.updateMemory);
  const remove = useMutation(memoryApi.deleteMemory);
  const [editing, setEditing] = useState(false);
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  function start() {
    setKey(memory.key);
    setValue(valueText(memory.value));
    setProblem(null);
    setEditing(true);
  }

  async function submit(event: SyntheticEvent) {
    event.preventDefault();
    const newKey = key.trim();
    if (newKey === "") {
      setProblem(new Error("A memory needs a name."));
      return;
    }
    if (newKey !== memory.key && takenKeys.includes(newKey)) {
      setProblem(new Error(`${advisorName} already remembers something named “${newKey}”.`));
      return;
    }
    let parsed: unknown = value;
    if (typeof memory.value !== "string") {
      try {
        parsed = JSON.parse(value);
      } catch {
        setProblem(new Error("This value is structured: write it as JSON."));
        return;
      }
    }
    setBusy(true);
    setProblem(null);
    try {
      // One call, renamed and changed together: never half a rename.
      await save({ memoryId: memory._id, key: newKey, value: parsed });
      setEditing(false);
    } catch (failure) {
      setProblem(failure);
    } finally {
      setBusy(false);
    }
  }

  if (editing) {
    return (
      <li className="memory-row">
        <EditForm
          label={`Edit ${memory.key}`}
          problem={problem}
          problemId={`${id}-problem`}
          busy={busy}
          onSubmit={submit}
          onCancel={() => { setEditing(false); }}
        >
          <label className="field">
            <span>Name</span>
            <input
              value={key}
              maxLength={KEY_MAX}
              onChange={(e) => { setKey(e.target.value); }}
              aria-invalid={problem !== null}
              aria-describedby={problem !== null ? `${id}-problem` : undefined}
              autoFocus
            />
          </label>
          <label className="field">
            <span>What {advisorName} remembers</span>
            <textarea
              value={value}
              rows={2}
              onChange={(e) => { setValue(e.target.value); }}
              aria-invalid={problem !== null}
              aria-describedby={problem !== null ? `${id}-problem` : undefined}
            />
          </label>
        </EditForm>
      </li>
    );
  }
  return (
    <li className="memory-row">
      <div className="memory-text">
        <div className="strong memory-key">{memory.key}</div>
        <div className="memory-value">{valueText(memory.value)}</div>
        <div className="muted small">{memory.setBy === "user" ? "Set by you" : `Noted by ${advisorName}`}</div>
      </div>
      <div className="memory-actions">
        <button
          type="button"
          className="icon-button"
          aria-label={`Edit ${memory.key}`}
          title={`Edit ${memory.key}`}
          onClick={start}
        >
          <Pencil aria-hidden size={16} />
        </button>
        <Confirm
          trigger={<Trash2 aria-hidden size={16} />}
          label={`Delete ${memory.key}`}
          title={`Forget “${memory.key}”?`}
          description={`${advisorName} will no longer remember this in this conversation.`}
          confirm="Forget it"
          onConfirm={() => remove({ memoryId: memory._id })}
        />
      </div>
    </li>
  );
}
