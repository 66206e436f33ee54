// A failed request in words, with the server's message (a ConvexError's data carries our
// stable code), and a way to try again.

import { ConvexError } from "convex/values";

/** The server's errorData (our stable `code`, the `field` it names, …) of a refusal,
 * or null for any other failure. */
export function errorDataOf(error: unknown): { code: string; field?: unknown; rule?: unknown } | null {
  if (!(error instanceof ConvexError)) return null;
  const data = error.data as { code?: unknown } | string | null;
  if (typeof data !== "object" || data === null || typeof data.code !== "string") return null;
  return data as { code: string; field?: unknown; rule?: unknown };
}

export function messageOf(error: unknown): string {
  if (error instanceof ConvexError && errorDataOf(error) !== null) {
    return error.message.replace(/^.*ConvexError: /s, "");
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
