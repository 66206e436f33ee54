// A failed request in words, with the server's message (a ConvexError's data carries our
// stable code), and a way to try again.

import { ConvexError } from "convex/values";

export function messageOf(error: unknown): string {
  if (error instanceof ConvexError) {
    const data = error.data as { code?: unknown } | string;
    if (typeof data === "object" && typeof data.code === "string") {
      return error.message.replace(/^.*ConvexError: /s, "");
    }
  }
  if (error instanceof Error) {
    // Server errors come as "[Request ID: …] Server Error\n<message>": keep the message.
    const lines = error.message.split("\n").filter((line) => line.trim() !== "");
    const last = lines[lines.length - 1] ?? error.message;
    return last.replace(/^Uncaught (ConvexError: )?/, "").replace(/^\[Request ID: [^\]]*\] /, "");
  }
  return "Something went wrong.";
}

export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div className="error-note" role="alert">
      <span>{messageOf(error)}</span>
      {onRetry !== undefined && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
