// Where the user writes. Enter sends, Shift+Enter starts a new line. The draft is kept
// per conversation (a reload or a failed send loses nothing): it is cleared only once
// the server has the message, and only if nothing was typed since.

import { useMutation } from "convex/react";
import { SendHorizontal, Square } from "lucide-react";
import { useEffect, useState } from "react";
import type { KeyboardEvent, SyntheticEvent } from "react";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { Id } from "../../lib/api";

const draftKey = (conversationId: Id) => `advisor-chat.draft.${conversationId}`;

type Props = { conversationId: Id; answering: boolean };

export function Composer({ conversationId, answering }: Props) {
  const [text, setText] = useState(() => localStorage.getItem(draftKey(conversationId)) ?? "");
  const [error, setError] = useState<unknown>(null);
  const [sending, setSending] = useState(false);
  const send = useMutation(api.messages.sendMessage);
  const stop = useMutation(api.messages.stop);

  useEffect(() => {
    if (text === "") localStorage.removeItem(draftKey(conversationId));
    else localStorage.setItem(draftKey(conversationId), text);
  }, [text, conversationId]);

  async function submit(event?: SyntheticEvent) {
    event?.preventDefault();
    const content = text;
    if (content.trim() === "" || sending) return;
    setSending(true);
    setError(null);
    try {
      await send({ conversationId, content });
      setText((current) => (current === content ? "" : current));
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
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

  return (
    <form className="composer" onSubmit={(event) => void submit(event)}>
      {error !== null && <ErrorNote error={error} onRetry={() => void submit()} />}
      <div className="composer-row">
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          value={text}
          onChange={(e) => { setText(e.target.value); }}
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
        Enter sends, Shift+Enter starts a new line.
      </p>
    </form>
  );
}
