// Which field a refused save names. The server checks arguments and files itself and
// answers INVALID_ARGUMENT with `field` (and `rule`) in errorData; a persona file's own
// problems name the file's field in the message ("advisor.persona.title: …").

import { errorDataOf, messageOf } from "../ErrorNote";

export type FieldError = { path: string; rule: string };

export function fieldErrorOf(error: unknown): FieldError | null {
  const data = errorDataOf(error);
  if (data?.code !== "INVALID_ARGUMENT" || typeof data.field !== "string") return null;
  const message = messageOf(error);
  let path = data.field;
  let rule = typeof data.rule === "string" ? data.rule : message;
  const named = /advisor\.([^\s:]+): (.*)$/s.exec(message);
  if (path === "advisor" && named !== null) {
    path = named[1] ?? path;
    rule = named[2] ?? rule;
  } else if (path.startsWith("advisor.")) {
    path = path.slice("advisor.".length);
  }
  return { path, rule };
}

/** `persona.specialties[2]` → `["persona.specialties", 2]`; a plain path → `[path, null]`. */
export function splitItem(path: string): [string, number | null] {
  const match = /^(.*)\[(\d+)\]$/.exec(path);
  if (match === null) return [path, null];
  return [match[1] ?? path, Number(match[2])];
}
