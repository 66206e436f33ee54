// A list persona field edited as a list: one input per entry, each removable, and a
// button to add one. An error the server gives an entry (`tags[1]`) is shown beside it.

import { Plus, X } from "lucide-react";
import { useRef } from "react";

type Props = {
  id: string;
  label: string;
  hint: string | undefined;
  values: string[];
  onChange: (values: string[]) => void;
  /** The list's own error, and its entries' by index. */
  error: string | undefined;
  itemErrors: Map<number, string>;
};

export function ListField({ id, label, hint, values, onChange, error, itemErrors }: Props) {
  const list = useRef<HTMLUListElement>(null);
  const singular = label.replace(/ies$/, "y").replace(/s$/, "").toLowerCase();
  const focusEntry = (index: number) => {
    requestAnimationFrame(() => {
      list.current?.querySelectorAll("input")[index]?.focus();
    });
  };
  return (
    <fieldset className="list-field" aria-describedby={`${id}-hint${error !== undefined ? ` ${id}-error` : ""}`}>
      <legend>{label}</legend>
      {hint !== undefined && (
        <p id={`${id}-hint`} className="muted small field-hint">
          {hint}
        </p>
      )}
      <ul ref={list} className="plain-list list-entries">
        {values.map((value, index) => {
          const itemError = itemErrors.get(index);
          const entryId = `${id}-${index}`;
          return (
            <li key={index} className="list-entry">
              <div className="list-entry-row">
                <input
                  id={entryId}
                  data-path={`${id}[${index}]`}
                  aria-label={`${label} ${index + 1}`}
                  value={value}
                  aria-invalid={itemError !== undefined ? true : undefined}
                  aria-describedby={itemError !== undefined ? `${entryId}-error` : undefined}
                  onChange={(event) => {
                    const next = [...values];
                    next[index] = event.target.value;
                    onChange(next);
                  }}
                  onKeyDown={(event) => {
                    if (event.key === "Enter") {
                      event.preventDefault();
                      onChange([...values.slice(0, index + 1), "", ...values.slice(index + 1)]);
                      focusEntry(index + 1);
                    }
                  }}
                />
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`Remove ${singular} ${index + 1}`}
                  title="Remove"
                  onClick={() => {
                    onChange(values.filter((_, i) => i !== index));
                    focusEntry(Math.max(0, index - 1));
                  }}
                >
                  <X aria-hidden size={16} />
                </button>
              </div>
              {itemError !== undefined && (
                <p id={`${entryId}-error`} className="field-error">
                  {itemError}
                </p>
              )}
            </li>
          );
        })}
      </ul>
      <button
        type="button"
        className="add-entry"
        data-path={id}
        onClick={() => {
          onChange([...values, ""]);
          focusEntry(values.length);
        }}
      >
        <Plus aria-hidden size={16} />
        Add {singular}
      </button>
      {error !== undefined && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}
