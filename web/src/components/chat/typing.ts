// This tab's typing, told to the server (realtime:setTypingStatus): refreshed while the
// draft changes, at most twice per expiry period (the server clears an indicator
// `expiryMs` after its last refresh), and ended when the draft empties or the
// conversation closes. A failed report is dropped: the indicator lapses by itself.

import { useMutation } from "convex/react";
import { useEffect, useRef } from "react";
import { api } from "../../lib/api";
import type { Id } from "../../lib/api";

export function useTypingReport(conversationId: Id, text: string, expiryMs: number): void {
  const report = useMutation(api.realtime.setTypingStatus);
  const lastSent = useRef(0); // when `true` was last sent (ms), 0: not typing
  const previous = useRef(text);

  useEffect(() => {
    const changed = text !== previous.current;
    previous.current = text;
    if (text === "") {
      if (lastSent.current !== 0) {
        lastSent.current = 0;
        report({ conversationId, isTyping: false }).catch(() => undefined);
      }
      return;
    }
    const now = Date.now();
    if (changed && now - lastSent.current > expiryMs / 2) {
      lastSent.current = now;
      report({ conversationId, isTyping: true }).catch(() => undefined);
    }
  }, [text, conversationId, expiryMs, report]);

  useEffect(
    () => () => {
      if (lastSent.current !== 0) {
        report({ conversationId, isTyping: false }).catch(() => undefined);
      }
    },
    [conversationId, report],
  );
}
