// Where the user writes. Enter sends, Shift+Enter starts a new line. Typing `@` opens a
// list of the advisors (and `@board`, for everyone), navigable with the arrow keys,
// chosen with Enter or Tab, closed with Escape. The textarea stays a textbox (ARIA in
// HTML allows it no other role) that names the list and its active option.
// The draft is kept per conversation (a reload or a failed send loses nothing): it is
// cleared only once the server has the message, and only if nothing was typed since.
// The message itself shows at once in the list, as sending, until the server's copy
// replaces it; a failed send takes it away again (optimistic.ts).

import { useMutation } from "convex/react";
import { SendHorizontal, Square } from "lucide-react";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { KeyboardEvent, SyntheticEvent } from "react";
import { Avatar } from "../Avatar";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { Advisor, Id } from "../../lib/api";
import { EVERYONE, matching, typedMention, withMention } from "./mentions";
import type { MentionOption } from "./mentions";
import { showSentMessage } from "./optimistic";
import { useTypingReport } from "./typing";

const draftKey = (conversationId: Id) => `advisor-chat.draft.${conversationId}`;
const LISTBOX = "mention-options";

type Props = {
  conversationId: Id;
  answering: boolean;
  advisors: Advisor[];
  typingExpiryMs: number;
  onDrafting: (drafting: boolean) => void;
};

export function Composer({ conversationId, answering, advisors, typingExpiryMs, onDrafting }: Props) {
  const [text, setText] = useState(() => localStorage.getItem(draftKey(conversationId)) ?? "");
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null); // the `@` Escape closed
  const [error, setError] = useState<unknown>(null);
  const [sending, setSending] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const placeCaret = useRef<number | null>(null); // after a pick: the caret's place in the new text
  const send = useMutation(api.messages.sendMessage).withOptimisticUpdate(showSentMessage);
  const stop = useMutation(api.messages.stop);

  useEffect(() => {
    if (text === "") localStorage.removeItem(draftKey(conversationId));
    else localStorage.setItem(draftKey(conversationId), text);
  }, [text, conversationId]);
  useTypingReport(conversationId, text, typingExpiryMs);
  const drafting = text !== "";
  useEffect(() => {
    onDrafting(drafting);
  }, [drafting, onDrafting]);

  // In the commit that shows the new text, before any further key reaches the textarea.
  useLayoutEffect(() => {
    if (placeCaret.current === null) return;
    input.current?.setSelectionRange(placeCaret.current, placeCaret.current);
    placeCaret.current = null;
  }, [text]);

  const everyone = useMemo<MentionOption[]>(
    () => [
      EVERYONE,
      ...advisors.map((advisor) => ({
        key: advisor._id,
        label: advisor.persona.name,
        detail: advisor.persona.title ?? "",
        insert: advisor.persona.name,
      })),
    ],
    [advisors],
  );
  const typed = typedMention(text, caret);
  const options = typed === null || typed.at === dismissed ? [] : matching(everyone, typed.query);
  const open = options.length > 0;
  const current = Math.min(active, options.length - 1);

  function choose(option: MentionOption) {
    if (typed === null) return;
    const next = withMention(text, typed.at, caret, option);
    setText(next.text);
    setCaret(next.caret);
    setActive(0);
    placeCaret.current = next.caret;
  }

  async function submit(event?: SyntheticEvent) {
    event?.preventDefault();
    const content = text;
    if (content.trim() === "" || sending) return;
    setSending(true);
    setError(null);
    try {
      await send({ conversationId, content });
      setText((now) => (now === content ? "" : now));
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (open) {
      const option = options[current];
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        setActive((current + step + options.length) % options.length);
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && option !== undefined) {
        event.preventDefault();
        choose(option);
        return;
      }
      if (event.key === "Escape" && typed !== null) {
        event.preventDefault();
        setDismissed(typed.at);
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void submit();
    }
  }

  async function stopAll() {
    setError(null);
    try {
      await stop({ conversationId });
    } catch (failure) {
      setError(failure);
    }
  }

  const optionId = (index: number) => `mention-option-${index}`;
  return (
    <form className="composer" onSubmit={(event) => void submit(event)}>
      {error !== null && <ErrorNote error={error} onRetry={() => void submit()} />}
      {open && (
        <ul id={LISTBOX} role="listbox" aria-label="Mention an advisor" className="mention-menu">
          {options.map((option, index) => (
            <li
              key={option.key}
              id={optionId(index)}
              role="option"
              aria-selected={index === current}
              className="mention-option"
              onMouseDown={(event) => {
                event.preventDefault(); // keep the focus in the textarea
                choose(option);
              }}
            >
              {option === EVERYONE ? (
                <span className="avatar avatar-initials mention-everyone" aria-hidden>
                  @
                </span>
              ) : (
                <Avatar name={option.label} size={24} />
              )}
              <span className="strong">{option === EVERYONE ? "@board" : option.label}</span>
              <span className="muted small">{option.detail}</span>
            </li>
          ))}
        </ul>
      )}
      <div className="composer-row">
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={input}
          value={text}
          aria-controls={open ? LISTBOX : undefined}
          aria-activedescendant={open ? optionId(current) : undefined}
          aria-autocomplete="list"
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setActive(0);
          }}
          onSelect={(e) => { setCaret(e.currentTarget.selectionStart); }}
          onKeyDown={onKeyDown}
          rows={2}
          placeholder="Write to your board… (@name to ask someone, @board for everyone)"
          aria-describedby="composer-hint"
        />
        {answering && (
          <button type="button" onClick={() => void stopAll()} aria-label="Stop answering">
            <Square aria-hidden size={16} />
            Stop
          </button>
        )}
        <button type="submit" className="primary" disabled={sending || text.trim() === ""} aria-label="Send">
          <SendHorizontal aria-hidden size={16} />
        </button>
      </div>
      <p id="composer-hint" className="muted small composer-hint">
        Enter sends, Shift+Enter starts a new line, @ mentions an advisor.
      </p>
    </form>
  );
}
