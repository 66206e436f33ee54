// One summary of an earlier stretch of the conversation: what it covers (its first and
// last message), when it was written, and its text, editable and deletable. The next
// answers' context carries an edit.

import { useMutation } from "convex/react";
import { Pencil, Trash2 } from "lucide-react";
import { useId, useState } from "react";
import type { SyntheticEvent } from "react";
import { summaryApi } from "../../lib/api-memory";
import type { Summary } from "../../lib/api-memory";
import { Confirm } from "./Confirm";
import { EditForm } from "./EditForm";
import { SpanEnd } from "./SpanEnd";

const CONTENT_MAX = 32_000; // the server's limit on a summary

export function SummaryItem({ summary, number }: { summary: Summary; number: number }) {
  const update = useMutation(summaryApi.updateSummary);
  const remove = useMutation(summaryApi.deleteSummary);
  const [editing, setEditing] = useState(false);
  const [content, setContent] = useState("");
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const name = `Summary ${String(number)}`;

  async function submit(event: SyntheticEvent) {
    event.preventDefault();
    if (content.trim() === "") {
      setProblem(new Error("A summary cannot be empty: delete it instead."));
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      await update({ summaryId: summary._id, content });
      setEditing(false);
    } catch (failure) {
      setProblem(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="summary-row" aria-label={name}>
      <div className="summary-meta muted small">
        <span className="strong">{name}</span> · written{" "}
        {new Date(summary.createdAt).toLocaleString()}
        <div>
          {summary.startMessageId !== undefined && summary.endMessageId !== undefined ? (
            <>
              Covers from <SpanEnd messageId={summary.startMessageId} /> to{" "}
              <SpanEnd messageId={summary.endMessageId} />
            </>
          ) : summary.endMessageId !== undefined ? (
            <>
              Covers up to <SpanEnd messageId={summary.endMessageId} />
            </>
          ) : (
            "Which messages it covers was not recorded."
          )}
        </div>
      </div>
      {editing ? (
        <EditForm
          label={`Edit ${name}`}
          problem={problem}
          problemId={`${id}-problem`}
          busy={busy}
          onSubmit={submit}
          onCancel={() => { setEditing(false); }}
        >
          <label className="field">
            <span>{name}</span>
            <textarea
              value={content}
              rows={5}
              maxLength={CONTENT_MAX}
              onChange={(e) => { setContent(e.target.value); }}
              aria-invalid={problem !== null}
              aria-describedby={problem !== null ? `${id}-problem` : undefined}
              autoFocus
            />
          </label>
        </EditForm>
      ) : (
        <div className="summary-body">
          <p className="summary-text">{summary.content}</p>
          <div className="memory-actions">
            <button
              type="button"
              className="icon-button"
              aria-label={`Edit ${name}`}
              title={`Edit ${name}`}
              onClick={() => {
                setContent(summary.content);
                setProblem(null);
                setEditing(true);
              }}
            >
              <Pencil aria-hidden size={16} />
            </button>
            <Confirm
              trigger={<Trash2 aria-hidden size={16} />}
              label={`Delete ${name}`}
              title={`Delete ${name.toLowerCase()}?`}
              description="The advisors will no longer see this summary of the earlier conversation. This cannot be undone."
              confirm="Delete summary"
              onConfirm={() => remove({ summaryId: summary._id })}
            />
          </div>
        </div>
      )}
    </li>
  );
}
