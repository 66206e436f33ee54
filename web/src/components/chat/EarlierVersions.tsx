// A regenerated answer's earlier versions, behind a disclosure: each readable, and
// any can be shown again (messages:selectVersion swaps it with the one shown, so
// nothing is lost).

import { useMutation } from "convex/react";
import { useState } from "react";
import { ErrorNote } from "../ErrorNote";
import { api } from "../../lib/api";
import type { Message } from "../../lib/api";
import { Markdown } from "./Markdown";

export function EarlierVersions({ message }: { message: Message }) {
  const select = useMutation(api.messages.selectVersion);
  const [error, setError] = useState<unknown>(null);
  const versions = message.versions ?? [];
  if (versions.length === 0) return null;
  const count = `${versions.length} earlier version${versions.length === 1 ? "" : "s"}`;
  const show = async (version: number) => {
    setError(null);
    try {
      await select({ messageId: message._id, version });
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <details className="versions">
      <summary className="small">{count}</summary>
      <ol className="plain-list">
        {versions.map((version, index) => (
          <li key={`${String(version.createdAt)}-${String(index)}`} className="version">
            <div className="muted small">
              Version {index + 1}
              {version.status === "stopped" ? " (stopped)" : version.status === "error" ? " (failed)" : ""}
            </div>
            <Markdown text={version.content === "" ? "_(empty)_" : version.content} />
            <button
              type="button"
              disabled={message.status === "streaming"}
              onClick={() => void show(index)}
              aria-label={`Show this version (version ${index + 1})`}
            >
              Show this version
            </button>
          </li>
        ))}
      </ol>
      {error !== null && <ErrorNote error={error} />}
    </details>
  );
}
