// The `@` autocomplete's logic: which mention is being typed at the caret, who matches
// it, and the text once one is chosen. Names match as the server matches them
// (ai/mentions.py): ignoring case and accents, by first name or full name; `@board`
// asks everyone.

export type MentionOption = { key: string; label: string; detail: string; insert: string };

export const EVERYONE: MentionOption = {
  key: "@board",
  label: "board",
  detail: "Everyone in this conversation",
  insert: "board",
};

// An `@` at the start or after whitespace or an opening bracket, then up to two words.
const TYPING = /(?:^|[\s([{"'])@([^\s@]*(?: [^\s@]*)?)$/u;

export function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** The partial name being typed before `caret`, and where its `@` is; or null. */
export function typedMention(text: string, caret: number): { query: string; at: number } | null {
  const before = text.slice(0, caret);
  const found = TYPING.exec(before);
  if (found === null) return null;
  const query = found[1] ?? "";
  return { query, at: caret - query.length - 1 };
}

export function matching(options: MentionOption[], query: string): MentionOption[] {
  const wanted = fold(query).trim();
  if (wanted === "") return options;
  return options.filter((option) => {
    const name = fold(option.label);
    return name.startsWith(wanted) || name.split(/\s+/).some((word) => word.startsWith(wanted));
  });
}

/** The text with the mention at `at` (through `caret`) replaced by the chosen one. */
export function withMention(
  text: string,
  at: number,
  caret: number,
  option: MentionOption,
): { text: string; caret: number } {
  const inserted = `@${option.insert} `;
  const after = text.slice(caret).replace(/^ /, "");
  return { text: text.slice(0, at) + inserted + after, caret: at + inserted.length };
}
