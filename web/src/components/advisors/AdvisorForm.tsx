// Create or edit a custom advisor: the persona's fields in groups, lists edited as lists.
// A refused save shows the server's words beside the field it names and moves focus
// there; what was typed stays in the form until a save succeeds or the user cancels.
// An edit saves against the version it started from: if another tab or device saved in
// between, the user chooses to save theirs over it or to load it, never a silent loss.

import { useMutation } from "convex/react";
import { useEffect, useRef, useState } from "react";
import type { SyntheticEvent } from "react";
import { ErrorNote, errorDataOf } from "../ErrorNote";
import { advisorsApi } from "../../lib/api-advisors";
import type { CustomAdvisor } from "../../lib/api-advisors";
import { fieldErrorOf, splitItem } from "./fieldErrors";
import type { FieldError } from "./fieldErrors";
import { ListField } from "./ListField";
import { GROUPS, SPECS, argsOf, compacted, draftOf } from "./personaFields";
import type { Draft, FieldSpec } from "./personaFields";

type Props = {
  advisor: CustomAdvisor | null;
  /** The advisor as it is now (live), while it is being edited; undefined once deleted. */
  latest?: CustomAdvisor | undefined;
  onDone: (name: string) => void;
  onCancel: () => void;
};

const fieldId = (spec: FieldSpec) => `advisor-${spec.key}`;

function isEditConflict(error: unknown): boolean {
  const data = errorDataOf(error);
  return data?.code === "CONFLICT" && data.field === "expectedUpdatedAt";
}

export function AdvisorForm({ advisor, latest, onDone, onCancel }: Props) {
  const create = useMutation(advisorsApi.createAdvisor);
  const update = useMutation(advisorsApi.updateAdvisor);
  const [draft, setDraft] = useState<Draft>(() => draftOf(advisor));
  const [fieldError, setFieldError] = useState<FieldError | null>(null);
  const [missing, setMissing] = useState<string[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [base, setBase] = useState(advisor?.updatedAt); // the version this edit started from
  const [conflict, setConflict] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const heading = advisor === null ? "New advisor" : `Edit ${advisor.persona.name}`;

  const focusPath = (path: string) => {
    requestAnimationFrame(() => {
      const target = form.current?.querySelector<HTMLElement>(`[data-path="${CSS.escape(path)}"]`);
      target?.focus();
    });
  };

  useEffect(() => {
    form.current?.querySelector<HTMLElement>('[data-path="persona.name"]')?.focus();
  }, []);

  async function save(event?: SyntheticEvent, over: number | undefined = base) {
    event?.preventDefault();
    setFieldError(null);
    setFailure(null);
    setConflict(false);
    const sent = compacted(draft);
    setDraft(sent);
    const empty = SPECS.filter((spec) => spec.required === true && String(sent[spec.key]).trim() === "");
    setMissing(empty.map((spec) => spec.key));
    if (empty[0] !== undefined) {
      focusPath(empty[0].path);
      return;
    }
    setBusy(true);
    try {
      const args = argsOf(sent, advisor);
      if (advisor === null) await create(args);
      else await update({ advisorId: advisor._id, expectedUpdatedAt: over, ...args });
      onDone(args.persona.name);
    } catch (error) {
      const named = fieldErrorOf(error);
      if (isEditConflict(error)) {
        setConflict(true);
      } else if (named !== null) {
        setFieldError(named);
        focusPath(named.path);
      } else {
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  }

  const errorFor = (spec: FieldSpec): string | undefined => {
    if (missing.includes(spec.key)) return `${spec.label} is required.`;
    return fieldError?.path === spec.path ? fieldError.rule : undefined;
  };
  const itemErrorsFor = (spec: FieldSpec): Map<number, string> => {
    const found = new Map<number, string>();
    if (fieldError === null) return found;
    const [list, index] = splitItem(fieldError.path);
    if (list === spec.path && index !== null) found.set(index, fieldError.rule);
    return found;
  };
  const shown = fieldError !== null && SPECS.some((spec) => fieldError.path === spec.path || splitItem(fieldError.path)[0] === spec.path);

  return (
    <section className="advisor-editor" aria-labelledby="advisor-form-heading">
      <h2 id="advisor-form-heading">{heading}</h2>
      <p className="muted small">
        Name and title are required; everything else helps the advisor answer in character.
      </p>
      <form ref={form} className="advisor-form" onSubmit={(event) => void save(event)} noValidate>
        {GROUPS.map((group) => (
          <fieldset key={group.legend} className="form-group">
            <legend>{group.legend}</legend>
            {group.fields.map((spec) => {
              const id = fieldId(spec);
              const error = errorFor(spec);
              const value = draft[spec.key];
              if (spec.kind === "list") {
                return (
                  <ListField
                    key={spec.key}
                    id={spec.path}
                    label={spec.label}
                    hint={spec.hint}
                    values={Array.isArray(value) ? value : []}
                    onChange={(values) => { setDraft((d) => ({ ...d, [spec.key]: values })); }}
                    error={error}
                    itemErrors={itemErrorsFor(spec)}
                  />
                );
              }
              const describedBy = [spec.hint !== undefined ? `${id}-hint` : "", error !== undefined ? `${id}-error` : ""]
                .filter(Boolean)
                .join(" ");
              const common = {
                id,
                "data-path": spec.path,
                value: typeof value === "string" ? value : "",
                required: spec.required,
                "aria-invalid": error !== undefined ? true : undefined,
                "aria-describedby": describedBy === "" ? undefined : describedBy,
              };
              const change = (text: string) => { setDraft((d) => ({ ...d, [spec.key]: text })); };
              return (
                <div key={spec.key} className="field">
                  <label htmlFor={id}>
                    {spec.label}
                  </label>
                  {spec.kind === "text" ? (
                    <textarea {...common} rows={4} onChange={(e) => { change(e.target.value); }} />
                  ) : (
                    <input
                      {...common}
                      type={spec.key === "imageUrl" ? "url" : "text"}
                      inputMode={spec.kind === "year" ? "numeric" : undefined}
                      onChange={(e) => { change(e.target.value); }}
                    />
                  )}
                  {spec.hint !== undefined && (
                    <p id={`${id}-hint`} className="muted small field-hint">
                      {spec.hint}
                    </p>
                  )}
                  {error !== undefined && (
                    <p id={`${id}-error`} className="field-error">
                      {error}
                    </p>
                  )}
                </div>
              );
            })}
          </fieldset>
        ))}
        <div role="alert" className="form-summary">
          {(fieldError !== null || missing.length > 0) && (
            <p className="form-error">
              Not saved:{" "}
              {missing.length > 0
                ? "fill in the required fields."
                : shown
                  ? "correct the marked field."
                  : `${fieldError?.path ?? ""}: ${fieldError?.rule ?? ""}`}
            </p>
          )}
        </div>
        {conflict && (
          <div className="error-note conflict-note" role="alert">
            <span>
              {latest === undefined
                ? "This advisor was deleted elsewhere while you edited it."
                : "This advisor was changed elsewhere (another tab or device) since you opened it. Your edits are still here."}
            </span>
            {latest !== undefined && (
              <span className="conflict-actions">
                <button
                  type="button"
                  onClick={() => {
                    setBase(latest.updatedAt);
                    void save(undefined, latest.updatedAt);
                  }}
                >
                  Save mine over it
                </button>
                <button
                  type="button"
                  onClick={() => {
                    setDraft(draftOf(latest));
                    setBase(latest.updatedAt);
                    setConflict(false);
                  }}
                >
                  Load the latest
                </button>
              </span>
            )}
          </div>
        )}
        {failure !== null && <ErrorNote error={failure} onRetry={() => void save()} />}
        <div className="form-actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Saving…" : advisor === null ? "Create advisor" : "Save changes"}
          </button>
        </div>
      </form>
    </section>
  );
}
