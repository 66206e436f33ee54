// The first words of a message a summary starts or ends at. A message deleted since
// (NOT_FOUND) says so rather than failing the panel.

import { useQuery } from "convex/react";
import { api } from "../../lib/api";
import type { Id } from "../../lib/api";
import { Failsafe } from "../Failsafe";

const WORDS = 60; // characters of the message shown

function Quoted({ messageId }: { messageId: Id }) {
  const message = useQuery(api.messages.getStreamingText, { messageId });
  if (message === undefined) return <span className="muted">…</span>;
  const text = message.content.replace(/\s+/g, " ").trim();
  return <q>{text.length > WORDS ? `${text.slice(0, WORDS - 1)}…` : text}</q>;
}

export function SpanEnd({ messageId }: { messageId: Id }) {
  return (
    <Failsafe fallback={<span className="muted">a message since deleted</span>}>
      <Quoted messageId={messageId} />
    </Failsafe>
  );
}
