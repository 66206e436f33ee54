// The chat view: the conversation list and the board down the side, the open
// conversation beside them. At phone width the side shows alone until a conversation
// is opened, and a link leads back to it.

import { useQuery } from "convex/react";
import { ArrowLeft } from "lucide-react";
import { useMemo } from "react";
import { Link, useParams } from "wouter";
import { BoardRail } from "../components/chat/BoardRail";
import { ConversationList } from "../components/chat/ConversationList";
import { ConversationPane } from "../components/chat/ConversationPane";
import { NewConversationDialog } from "../components/chat/NewConversationDialog";
import { Failsafe } from "../components/Failsafe";
import { api } from "../lib/api";
import type { Advisor, BoardAdvisor, Id } from "../lib/api";

export function ChatView() {
  const { conversationId } = useParams<{ conversationId?: string }>();
  const board = useQuery(api.marketplace.getUserSelectedAdvisors, {});
  const advisors = useMemo(() => {
    const byId = new Map<Id, Advisor>();
    for (const advisor of board ?? []) byId.set(advisor._id, advisor);
    return byId;
  }, [board]);

  return (
    <div className={`chat-layout${conversationId === undefined ? "" : " has-open"}`}>
      <aside className="rail" aria-label="Conversations and board">
        <ConversationList board={board} currentId={conversationId} />
        <Failsafe key={conversationId} fallback={<BoardRail board={board} conversation={undefined} />}>
          <RailOf board={board} conversationId={conversationId} />
        </Failsafe>
      </aside>
      <section className="conversation" aria-label="Conversation">
        {conversationId === undefined ? (
          <div className="empty-chat">
            <h1>Chat</h1>
            {board?.length === 0 ? (
              <p>
                Your board is empty. <Link href="/marketplace">Add advisors from the marketplace</Link>{" "}
                to start a conversation.
              </p>
            ) : (
              <>
                <p>Pick a conversation, or start a new one with your board.</p>
                {board !== undefined && <NewConversationDialog board={board} />}
              </>
            )}
          </div>
        ) : (
          <>
            <Link href="/" className="back-link">
              <ArrowLeft aria-hidden size={16} />
              All conversations
            </Link>
            <Failsafe
              key={conversationId}
              fallback={
                <div className="empty-chat">
                  <p role="alert">This conversation is gone: it was deleted, or is not yours.</p>
                  <Link href="/">Back to your conversations</Link>
                </div>
              }
            >
              <ConversationPane conversationId={conversationId} advisors={advisors} />
            </Failsafe>
          </>
        )}
      </section>
    </div>
  );
}

/** The board with the open conversation's advisors and active advisor marked. */
function RailOf({ board, conversationId }: { board: BoardAdvisor[] | undefined; conversationId: Id | undefined }) {
  const conversation = useQuery(
    api.conversations.getConversationById,
    conversationId === undefined ? "skip" : { conversationId },
  );
  return <BoardRail board={board} conversation={conversation} />;
}
