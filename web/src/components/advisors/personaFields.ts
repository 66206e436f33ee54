// The persona fields the form edits, where each lives in what the server stores, and the
// bounds the schema gives them (schema/limits.py), shown as hints: the server enforces
// them and names the field it refuses, so the inputs do not cut text short.

import type { AdvisorFields, CustomAdvisor } from "../../lib/api-advisors";

export type Kind = "line" | "text" | "list" | "year";

export type FieldSpec = {
  key: string;
  label: string;
  /** Where the server's error names it: `persona.bio`, `tags`, … */
  path: string;
  kind: Kind;
  hint?: string;
  required?: boolean;
};

export type Group = { legend: string; fields: FieldSpec[] };

const NAME = "Up to 200 characters.";
const LINE = "Up to 1,000 characters.";
const TEXT = "Up to 10,000 characters.";
const LINES = "Up to 50 entries of 1,000 characters each.";

export const GROUPS: Group[] = [
  {
    legend: "Who they are",
    fields: [
      { key: "name", label: "Name", path: "persona.name", kind: "line", hint: `Required. ${NAME}`, required: true },
      { key: "title", label: "Title", path: "persona.title", kind: "line", hint: `Required. ${NAME}`, required: true },
      { key: "oneLiner", label: "One-liner", path: "persona.oneLiner", kind: "line", hint: LINE },
      { key: "archetype", label: "Archetype", path: "persona.archetype", kind: "line", hint: LINE },
      { key: "category", label: "Category", path: "category", kind: "line", hint: "Up to 64 characters." },
      {
        key: "imageUrl",
        label: "Image URL",
        path: "imageUrl",
        kind: "line",
        hint: "An https:// address of a picture; up to 2,048 characters.",
      },
      { key: "tags", label: "Tags", path: "tags", kind: "list", hint: "Up to 50 tags of 64 characters each." },
    ],
  },
  {
    legend: "Story",
    fields: [
      { key: "bio", label: "Bio", path: "persona.bio", kind: "text", hint: TEXT },
      { key: "detailedBackground", label: "Background", path: "persona.detailedBackground", kind: "text", hint: TEXT },
      { key: "experience", label: "Experience", path: "persona.experience", kind: "line", hint: LINE },
    ],
  },
  {
    legend: "Expertise",
    fields: [
      { key: "specialties", label: "Specialties", path: "persona.specialties", kind: "list", hint: LINES },
      { key: "expertise", label: "Expertise", path: "persona.expertise", kind: "list", hint: LINES },
      {
        key: "coreBeliefsOrPrinciples",
        label: "Principles",
        path: "persona.coreBeliefsOrPrinciples",
        kind: "list",
        hint: LINES,
      },
    ],
  },
  {
    legend: "Voice",
    fields: [
      { key: "communicationStyle", label: "Communication style", path: "persona.communicationStyle", kind: "line", hint: LINE },
      { key: "temperament", label: "Temperament", path: "persona.temperament", kind: "line", hint: LINE },
      { key: "personality", label: "Personality traits", path: "persona.personality", kind: "list", hint: LINES },
      { key: "signOff", label: "Sign-off", path: "persona.adviceDelivery.signOff", kind: "line", hint: LINE },
    ],
  },
  {
    legend: "Education",
    fields: [
      { key: "degreeName", label: "Degree", path: "persona.education.degreeName", kind: "line", hint: LINE },
      { key: "major", label: "Major", path: "persona.education.major", kind: "line", hint: LINE },
      { key: "institution", label: "Institution", path: "persona.education.institution", kind: "line", hint: LINE },
      { key: "graduationYear", label: "Graduation year", path: "persona.education.graduationYear", kind: "year" },
    ],
  },
  {
    legend: "Location",
    fields: [
      { key: "city", label: "City", path: "persona.location.city", kind: "line", hint: LINE },
      { key: "region", label: "Region", path: "persona.location.region", kind: "line", hint: LINE },
      { key: "country", label: "Country", path: "persona.location.country", kind: "line", hint: LINE },
    ],
  },
];

export const SPECS: FieldSpec[] = GROUPS.flatMap((group) => group.fields);

/** What the user is typing: text for single values, lists of text for lists. */
export type Draft = Record<string, string | string[]>;

type Nested = Record<string, unknown>;

function at(root: Nested, path: string): unknown {
  let value: unknown = root;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Nested)[part];
  }
  return value;
}

/** A stored value as the form shows it: text and numbers as typed, anything else as JSON. */
function text(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function draftOf(advisor: CustomAdvisor | null): Draft {
  const root: Nested = advisor === null ? {} : { ...advisor };
  const draft: Draft = {};
  for (const spec of SPECS) {
    const value = at(root, spec.path);
    if (spec.kind === "list") {
      draft[spec.key] = Array.isArray(value) ? value.map(text) : [];
    } else {
      draft[spec.key] = text(value);
    }
  }
  return draft;
}

/** The draft with empty list entries dropped, as it is sent (so an error's index matches
 * the entry shown). */
export function compacted(draft: Draft): Draft {
  const out: Draft = {};
  for (const [key, value] of Object.entries(draft)) {
    out[key] = Array.isArray(value) ? value.filter((item) => item.trim() !== "") : value;
  }
  return out;
}

function setAt(root: Nested, parts: string[], value: unknown): void {
  const [head, ...rest] = parts;
  if (head === undefined) return;
  if (rest.length === 0) {
    if (value === undefined) Reflect.deleteProperty(root, head);
    else root[head] = value;
    return;
  }
  const current = root[head];
  const child: Nested = typeof current === "object" && current !== null ? { ...(current as Nested) } : {};
  setAt(child, rest, value);
  if (Object.keys(child).length === 0) Reflect.deleteProperty(root, head);
  else root[head] = child;
}

/** What createAdvisor / updateAdvisor are sent: the original's persona with the form's
 * fields laid over it (what the form does not show is kept), empty fields left out. A
 * year that is not a number is sent as typed, for the server to name. */
export function argsOf(draft: Draft, original: CustomAdvisor | null): AdvisorFields {
  const persona: Nested = { ...(original?.persona ?? {}) };
  const top: Nested = {};
  for (const spec of SPECS) {
    const raw = draft[spec.key] ?? "";
    let value: unknown;
    if (Array.isArray(raw)) value = raw.map((item) => item.trim()).filter((item) => item !== "");
    else if (raw.trim() === "") value = undefined;
    else if (spec.kind === "year") value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw.trim();
    else value = spec.kind === "text" ? raw : raw.trim();
    if (spec.path.startsWith("persona.")) {
      const empty = Array.isArray(value) && value.length === 0;
      setAt(persona, spec.path.split(".").slice(1), empty ? undefined : value);
    } else {
      top[spec.key] = value;
    }
  }
  const args: AdvisorFields = {
    persona: { ...persona, name: text(persona.name), title: text(persona.title) },
    tags: Array.isArray(top.tags) ? (top.tags as string[]) : [],
  };
  for (const key of ["imageUrl", "category"] as const) {
    const value = top[key];
    if (typeof value === "string") args[key] = value;
    else if (original?.[key] !== undefined) args[key] = ""; // cleared: nothing to show
  }
  return args;
}
