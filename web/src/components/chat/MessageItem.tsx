// One message: the user's, an advisor's (attributed with avatar and name; streaming text
// followed live through messages:getStreamingText, so another tab or a reloaded page
// sees it continue), or a system notice. The user's message shows "Sending…" until the
// server has it. Stopped and failed answers say so and offer a
// retry (regenerate).

import { useMutation, useQuery } from "convex/react";
import { RotateCcw, Square } from "lucide-react";
import { useState } from "react";
import { Avatar } from "../Avatar";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { Advisor, Message } from "../../lib/api";
import { EarlierVersions } from "./EarlierVersions";
import { Markdown } from "./Markdown";
import { isPending } from "./optimistic";

type Props = { message: Message; advisor: Advisor | undefined };

export function MessageItem({ message, advisor }: Props) {
  if (message.sender === "system") {
    return (
      <li className="msg msg-system">
        <Markdown text={message.content} />
      </li>
    );
  }
  if (message.sender === "user") {
    const pending = isPending(message);
    return (
      <li className="msg msg-user" aria-label="You said" aria-busy={pending}>
        <div className={`bubble bubble-user${pending ? " is-pending" : ""}`}>
          <Markdown text={message.content} />
        </div>
        {pending && <p className="msg-state muted small">Sending…</p>}
      </li>
    );
  }
  return <AdvisorMessage message={message} advisor={advisor} />;
}

function AdvisorMessage({ message, advisor }: Props) {
  const fetched = useQuery(
    api.advisors.getAdvisorById,
    advisor === undefined && message.advisorId !== undefined
      ? { advisorId: message.advisorId }
      : "skip",
  );
  const who = advisor ?? fetched;
  const name = who?.persona.name ?? "Advisor";
  const streaming = message.status === "streaming";
  const live = useQuery(api.messages.getStreamingText, streaming ? { messageId: message._id } : "skip");
  const text = streaming ? (live?.content ?? message.content) : message.content;
  const stop = useMutation(api.messages.stop);
  const regenerate = useMutation(api.messages.regenerate);
  const [error, setError] = useState<unknown>(null);

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <li className="msg msg-advisor" aria-label={`${name} said`} aria-busy={streaming}>
      <Avatar name={name} imageUrl={who?.imageUrl} size={36} />
      <div className="msg-body">
        <div className="msg-meta">
          <span className="strong">{name}</span>
          {who?.persona.title !== undefined && <span className="muted small">{who.persona.title}</span>}
        </div>
        <div className={`bubble bubble-advisor${streaming ? " is-streaming" : ""}`}>
          {text === "" && streaming ? (
            <span className="muted">Thinking…</span>
          ) : (
            <Markdown text={text} />
          )}
        </div>
        {message.status === "stopped" && <p className="msg-state">Stopped.</p>}
        {message.status === "error" && (
          <p className="msg-state msg-error">
            This answer failed{message.error !== undefined ? `: ${message.error}` : "."}
          </p>
        )}
        {message.notice !== undefined && <p className="muted small">{message.notice}</p>}
        <div className="msg-actions">
          {streaming ? (
            <button type="button" onClick={() => void run(() => stop({ messageId: message._id }))}>
              <Square aria-hidden size={14} />
              Stop
            </button>
          ) : (
            <button
              type="button"
              onClick={() => void run(() => regenerate({ messageId: message._id }))}
              aria-label={message.status === "error" ? `Retry ${name}'s answer` : `Regenerate ${name}'s answer`}
            >
              <RotateCcw aria-hidden size={14} />
              {message.status === "error" ? "Retry" : "Regenerate"}
            </button>
          )}
        </div>
        <EarlierVersions message={message} />
        {error !== null && <ErrorNote error={error} />}
      </div>
    </li>
  );
}
