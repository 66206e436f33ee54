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
  lastMessageAt?: number;
  updatedAt?: number;
};

export type MessageStatus = "pending" | "generating" | "complete" | "stopped" | "error";

export type Message = {
  _id: Id;
  _creationTime: number;
  conversationId: Id;
  sender: "user" | "advisor" | "system";
  advisorId?: Id;
  content: string;
  status?: MessageStatus;
  error?: string;
  createdAt?: number;
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
  users: {
    current: makeFunctionReference<
      "query",
      Record<string, never>,
      { _id: Id; email?: string; name?: string; plan?: string } | null
    >("users:current"),
  },
};
