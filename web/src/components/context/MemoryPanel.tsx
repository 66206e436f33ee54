// "What the advisors remember": a side panel, opened from the conversation's header, with
// what each advisor remembers in this conversation and the summaries of its earlier
// stretches, all editable and deletable. Both lists are live queries: a memory the chat
// engine adds while the panel is open appears in it, and other tabs see every change.

import * as Dialog from "@radix-ui/react-dialog";
import { useQuery } from "convex/react";
import { Brain } from "lucide-react";
import { useState } from "react";
import type { Id } from "../../lib/api";
import { memoryApi, summaryApi } from "../../lib/api-memory";
import type { Memory } from "../../lib/api-memory";
import { DialogFrame } from "../DialogFrame";
import { Failsafe } from "../Failsafe";
import { AdvisorMemories } from "./AdvisorMemories";
import { SummaryItem } from "./SummaryItem";
import "./context.css";

const TITLE = "What the advisors remember";

/** The header's button and the panel it opens. */
export function MemoryPanel({ conversationId }: { conversationId: Id }) {
  const [open, setOpen] = useState(false);
  return (
    <Dialog.Root open={open} onOpenChange={setOpen}>
      <Dialog.Trigger asChild>
        <button type="button" className="icon-button" aria-label={TITLE} title={TITLE}>
          <Brain aria-hidden size={18} />
        </button>
      </Dialog.Trigger>
      <DialogFrame
        className="context-panel"
        onEscapeKeyDown={(event) => {
          // Escape in an edit cancels the edit (the form handles it), not the panel.
          if (event.target instanceof Element && event.target.closest(".memory-form") !== null) {
            event.preventDefault();
          }
        }}
      >
        <Dialog.Title className="dialog-title">{TITLE}</Dialog.Title>
        <Dialog.Description className="muted small">
          What each advisor keeps about your situation in this conversation, and the
          summaries of its earlier parts. The advisors see these with every answer: correct
          or remove anything that is wrong.
        </Dialog.Description>
        {open && (
          <Failsafe>
            <PanelBody conversationId={conversationId} />
          </Failsafe>
        )}
      </DialogFrame>
    </Dialog.Root>
  );
}

function byAdvisor(memories: Memory[]): [Id, Memory[]][] {
  const groups = new Map<Id, Memory[]>();
  for (const memory of memories) {
    const group = groups.get(memory.advisorId);
    if (group === undefined) groups.set(memory.advisorId, [memory]);
    else group.push(memory);
  }
  return [...groups.entries()];
}

function PanelBody({ conversationId }: { conversationId: Id }) {
  const memories = useQuery(memoryApi.list, { conversationId });
  const summaries = useQuery(summaryApi.getConversationSummaries, { conversationId });
  return (
    <>
      <section className="context-section" aria-labelledby="memories-heading">
        <h2 id="memories-heading" className="rail-heading">
          Memories
        </h2>
        {memories === undefined ? (
          <p role="status">Loading…</p>
        ) : memories.length === 0 ? (
          <p className="small">
            Nothing yet. As you talk, each advisor notes the facts about your situation worth
            keeping; they appear here.
          </p>
        ) : (
          byAdvisor(memories).map(([advisorId, group]) => (
            <Failsafe key={advisorId}>
              <AdvisorMemories conversationId={conversationId} advisorId={advisorId} memories={group} />
            </Failsafe>
          ))
        )}
      </section>
      <section className="context-section" aria-labelledby="summaries-heading">
        <h2 id="summaries-heading" className="rail-heading">
          Summaries
        </h2>
        {summaries === undefined ? (
          <p role="status">Loading…</p>
        ) : summaries.length === 0 ? (
          <p className="small">
            None yet. When a conversation outgrows what a model can read at once, its earlier
            part is summarised here.
          </p>
        ) : (
          <ol className="plain-list" aria-label="Summaries, oldest first">
            {summaries.map((summary, index) => (
              <SummaryItem key={summary._id} summary={summary} number={index + 1} />
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
