// A new advisor from a persona file (DESIGN.md §4). The browser only reads the file as
// JSON to send it: the server checks it, and each field it refuses is listed by its path
// in the file. The parsed file is kept, so a failed request can be tried again.

import { useMutation } from "convex/react";
import { Upload } from "lucide-react";
import { useRef, useState } from "react";
import { ErrorNote } from "../ErrorNote";
import { advisorsApi } from "../../lib/api-advisors";
import { fieldErrorOf } from "./fieldErrors";
import type { FieldError } from "./fieldErrors";

type Outcome =
  | { kind: "idle" }
  | { kind: "saved"; name: string; file: string }
  | { kind: "unreadable"; file: string; reason: string }
  | { kind: "refused"; file: string; problems: FieldError[] }
  | { kind: "failed"; file: string; error: unknown; advisor: Record<string, unknown> };

function nameIn(advisor: Record<string, unknown>, file: string): string {
  const persona = advisor.persona;
  if (typeof persona === "object" && persona !== null) {
    const name = (persona as Record<string, unknown>).name;
    if (typeof name === "string" && name.trim() !== "") return name;
  }
  return file;
}

export function UploadAdvisor() {
  const createFromFile = useMutation(advisorsApi.createAdvisorFromJSON);
  const [outcome, setOutcome] = useState<Outcome>({ kind: "idle" });
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  async function send(file: string, advisor: Record<string, unknown>) {
    setBusy(true);
    try {
      await createFromFile({ advisor });
      setOutcome({ kind: "saved", name: nameIn(advisor, file), file });
      if (input.current !== null) input.current.value = "";
    } catch (error) {
      const named = fieldErrorOf(error);
      setOutcome(
        named !== null
          ? { kind: "refused", file, problems: [named] }
          : { kind: "failed", file, error, advisor },
      );
    } finally {
      setBusy(false);
    }
  }

  async function read(file: File) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await file.text());
    } catch (error) {
      setOutcome({ kind: "unreadable", file: file.name, reason: `it is not valid JSON (${error instanceof Error ? error.message : "unreadable"})` });
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      setOutcome({ kind: "unreadable", file: file.name, reason: "it must hold one advisor: a JSON object with a persona" });
      return;
    }
    await send(file.name, parsed as Record<string, unknown>);
  }

  return (
    <section className="upload-advisor" aria-labelledby="upload-heading">
      <h2 id="upload-heading" className="section-heading">
        Upload a persona file
      </h2>
      <p className="muted small" id="upload-hint">
        A JSON advisor file (advisorSchemaVersion 1.1-base): a persona with at least a name
        and a title.
      </p>
      <label className="file-pick">
        <Upload aria-hidden size={16} />
        <span>Choose a persona file (JSON)</span>
        <input
          ref={input}
          type="file"
          accept="application/json,.json"
          aria-describedby="upload-hint"
          disabled={busy}
          onChange={(event) => {
            const file = event.target.files?.[0];
            if (file !== undefined) void read(file);
          }}
        />
      </label>
      <div role="status" className="upload-status">
        {busy && <p>Uploading…</p>}
        {outcome.kind === "saved" && (
          <p className="ok-note">
            Saved {outcome.name} from {outcome.file}.
          </p>
        )}
      </div>
      <div role="alert">
        {outcome.kind === "unreadable" && (
          <p className="form-error">
            {outcome.file} was not sent: {outcome.reason}.
          </p>
        )}
        {outcome.kind === "refused" && (
          <div className="form-error upload-problems">
            <p>{outcome.file} was not accepted. Correct these fields in the file and upload it again:</p>
            <ul aria-label="Fields refused in the file">
              {outcome.problems.map((problem) => (
                <li key={problem.path}>
                  <code>{problem.path}</code>: {problem.rule}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
      {outcome.kind === "failed" && (
        <ErrorNote error={outcome.error} onRetry={() => void send(outcome.file, outcome.advisor)} />
      )}
    </section>
  );
}
