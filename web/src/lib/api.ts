// The server functions the app calls, typed by hand (the server is Python: there is no
// generated `api` object). Shapes follow src/advisor_chat/functions/*.py.

import { makeFunctionReference } from "convex/server";
import type { PaginationOptions, PaginationResult } from "convex/server";

export type Id = string;

export type Persona = {
  name: string;
  title?: string;
  oneLiner?: string;
  bio?: string;
  archetype?: string;
};

export type Advisor = {
  _id: Id;
  _creationTime: number;
  imageUrl?: string;
  status: "active" | "inactive" | "archived";
  category?: string;
  featured?: boolean;
  isPublic?: boolean;
  ownerId?: Id;
  updatedAt: number;
  persona: Persona;
  tags: string[];
};

export type BoardAdvisor = Advisor & {
  selection: { selectedAt: number; source: string; teamId?: string };
};

export type Conversation = {
  _id: Id;
  _creationTime: number;
  title?: string;
  advisorIds?: Id[];
  activeAdvisorId?: Id;
  createdAt: number;
  updatedAt: number;
};

/** An answer's life: `streaming → complete | stopped | error`; a regenerate starts it
 * streaming again, its old text kept among `versions`. */
export type MessageStatus = "complete" | "streaming" | "stopped" | "error";

export type Message = {
  _id: Id;
  _creationTime: number;
  conversationId: Id;
  sender: "user" | "advisor" | "system";
  advisorId?: Id;
  content: string;
  mentions: string[];
  createdAt: number;
  status?: MessageStatus;
  error?: string;
  errorCode?: string;
  model?: string;
  notice?: string;
  versions?: { content: string; createdAt: number; status?: MessageStatus }[];
};

export type StreamingText = {
  messageId: Id;
  status: MessageStatus;
  content: string;
  error?: string;
  errorCode?: string;
  model?: string;
  notice?: string;
};

/** One user writing in a conversation (the caller: their other tabs and devices too);
 * the server clears the entry at `expiresAt` unless it is refreshed. */
export type TypingUser = {
  _id: Id;
  userId: Id;
  name?: string | null;
  image?: string | null;
  lastTypingAt: number;
  expiresAt: number;
};

type Paged<Args> = Args & { paginationOpts: PaginationOptions };

export const api = {
  marketplace: {
    getMarketplaceAdvisors: makeFunctionReference<
      "query",
      Paged<{ featured?: boolean; category?: string }>,
      PaginationResult<Advisor>
    >("marketplace:getMarketplaceAdvisors"),
    getUserSelectedAdvisors: makeFunctionReference<
      "query",
      Record<string, never>,
      BoardAdvisor[]
    >("marketplace:getUserSelectedAdvisors"),
    selectAdvisor: makeFunctionReference<"mutation", { advisorId: Id }, Id>(
      "marketplace:selectAdvisor",
    ),
    unselectAdvisor: makeFunctionReference<"mutation", { advisorId: Id }, boolean>(
      "marketplace:unselectAdvisor",
    ),
  },
  advisors: {
    getAdvisorById: makeFunctionReference<"query", { advisorId: Id }, Advisor>(
      "advisors:getAdvisorById",
    ),
  },
  conversations: {
    getUserConversations: makeFunctionReference<
      "query",
      Paged<Record<string, never>>,
      PaginationResult<Conversation>
    >("conversations:getUserConversations"),
    getConversationById: makeFunctionReference<"query", { conversationId: Id }, Conversation>(
      "conversations:getConversationById",
    ),
    createConversation: makeFunctionReference<
      "mutation",
      { title?: string; advisorIds?: Id[] },
      Id
    >("conversations:createConversation"),
    updateConversation: makeFunctionReference<
      "mutation",
      { conversationId: Id; title?: string | null; activeAdvisorId?: Id | null },
      Conversation
    >("conversations:updateConversation"),
    deleteConversation: makeFunctionReference<"mutation", { conversationId: Id }, null>(
      "conversations:deleteConversation",
    ),
  },
  messages: {
    getConversationMessages: makeFunctionReference<
      "query",
      Paged<{ conversationId: Id; order?: "asc" | "desc" }>,
      PaginationResult<Message>
    >("messages:getConversationMessages"),
    searchMessages: makeFunctionReference<
      "query",
      { query: string; conversationId?: Id; limit?: number },
      Message[]
    >("messages:searchMessages"),
    getStreamingText: makeFunctionReference<"query", { messageId: Id }, StreamingText>(
      "messages:getStreamingText",
    ),
    sendMessage: makeFunctionReference<
      "mutation",
      { conversationId: Id; content: string; mentions?: Id[] },
      Id
    >("messages:sendMessage"),
    stop: makeFunctionReference<"mutation", { messageId?: Id; conversationId?: Id }, number>(
      "messages:stop",
    ),
    selectVersion: makeFunctionReference<"mutation", { messageId: Id; version: number }, Message>(
      "messages:selectVersion",
    ),
    regenerate: makeFunctionReference<"mutation", { messageId: Id }, string>(
      "messages:regenerate",
    ),
  },
  realtime: {
    setTypingStatus: makeFunctionReference<
      "mutation",
      { conversationId: Id; isTyping: boolean },
      null
    >("realtime:setTypingStatus"),
    getTypingUsers: makeFunctionReference<
      "query",
      { conversationId: Id },
      TypingUser[]
    >("realtime:getTypingUsers"),
    updateUserPresence: makeFunctionReference<
      "mutation",
      { isOnline: boolean; currentConversationId?: Id | null },
      null
    >("realtime:updateUserPresence"),
  },
  users: {
    current: makeFunctionReference<
      "query",
      Record<string, never>,
      { _id: Id; email?: string; name?: string; plan?: string } | null
    >("users:current"),
    store: makeFunctionReference<"mutation", Record<string, never>, Id>("users:store"),
    updateUserProfile: makeFunctionReference<"mutation", { name: string }, { _id: Id; name?: string }>(
      "users:updateUserProfile",
    ),
  },
  auth: {
    deleteCurrentUser: makeFunctionReference<"mutation", Record<string, never>, { success: boolean }>(
      "auth:deleteCurrentUser",
    ),
  },
};
