// What one advisor remembers in this conversation, with a way to make them forget all of
// it. The advisor is looked up by id: one who has left the board still shows by name.

import { useMutation, useQuery } from "convex/react";
import { Avatar } from "../Avatar";
import { api } from "../../lib/api";
import type { Id } from "../../lib/api";
import { memoryApi } from "../../lib/api-memory";
import type { Memory } from "../../lib/api-memory";
import { Confirm } from "./Confirm";
import { MemoryItem } from "./MemoryItem";

type Props = { conversationId: Id; advisorId: Id; memories: Memory[] };

export function AdvisorMemories({ conversationId, advisorId, memories }: Props) {
  const advisor = useQuery(api.advisors.getAdvisorById, { advisorId });
  const clear = useMutation(memoryApi.clearAdvisorMemories);
  const name = advisor?.persona.name ?? "An advisor";
  const headingId = `memories-${advisorId}`;
  const keys = memories.map((m) => m.key);
  return (
    <section className="memory-group" aria-labelledby={headingId}>
      <div className="memory-group-head">
        <Avatar name={name} imageUrl={advisor?.imageUrl} size={32} />
        <div className="board-text">
          <h3 id={headingId} className="memory-group-title">
            {name}
          </h3>
          {advisor?.persona.title !== undefined && (
            <div className="muted small">{advisor.persona.title}</div>
          )}
        </div>
        <Confirm
          className="memory-clear"
          trigger="Forget everything"
          label={`Forget everything ${name} remembers here`}
          title={`Forget everything ${name} remembers here?`}
          description={`${String(memories.length)} ${memories.length === 1 ? "memory" : "memories"} will be deleted from this conversation. This cannot be undone.`}
          confirm="Forget everything"
          onConfirm={() => clear({ conversationId, advisorId })}
        />
      </div>
      <ul className="plain-list" aria-label={`What ${name} remembers`}>
        {memories.map((memory) => (
          <MemoryItem key={memory._id} memory={memory} advisorName={name} takenKeys={keys} />
        ))}
      </ul>
    </section>
  );
}
