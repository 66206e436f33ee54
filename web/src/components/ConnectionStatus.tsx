// The sync connection's state from the Convex client. The client reconnects by itself;
// this only says so, politely, and says when it is back.

import { useConvexConnectionState } from "convex/react";
import { Wifi, WifiOff } from "lucide-react";
import { useState } from "react";

export function ConnectionStatus() {
  const state = useConvexConnectionState();
  // The client counts a connection only once its socket is open and un-paused (it pauses
  // while it fetches a token), yet an open socket already reads as connected: once this
  // said "Connected", a loss is a loss, not a first "Connecting…".
  const [shownConnected, setShownConnected] = useState(false);
  if (state.isWebSocketConnected && !shownConnected) setShownConnected(true);
  let text: string;
  let kind: "ok" | "waiting" | "lost";
  if (state.isWebSocketConnected) {
    text = "Connected";
    kind = "ok";
  } else if (state.hasEverConnected || shownConnected) {
    text = "Connection lost, reconnecting…";
    kind = "lost";
  } else {
    text = "Connecting…";
    kind = "waiting";
  }
  return (
    <div className={`connection connection-${kind}`} role="status" aria-live="polite" data-state={kind}>
      {kind === "ok" ? <Wifi aria-hidden size={16} /> : <WifiOff aria-hidden size={16} />}
      <span className={kind === "ok" ? "visually-hidden-narrow" : undefined}>{text}</span>
    </div>
  );
}
