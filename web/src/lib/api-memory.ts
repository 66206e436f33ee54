// What the advisors remember in a conversation (advisorMemories) and the summaries of its
// earlier stretches (threadSummaries), typed by hand as lib/api.ts is. Only arguments the
// server has always taken are used.

import { makeFunctionReference } from "convex/server";
import type { Id } from "./api";

export type Memory = {
  _id: Id;
  _creationTime: number;
  conversationId: Id;
  advisorId: Id;
  key: string;
  value: unknown; // usually a string; any JSON value is allowed
  createdAt: number;
  updatedAt: number;
  setBy?: "user" | "advisor"; // absent: the advisor
};

export type Summary = {
  _id: Id;
  _creationTime: number;
  conversationId: Id;
  content: string;
  startMessageId?: Id;
  endMessageId?: Id;
  createdAt: number;
};

export const memoryApi = {
  list: makeFunctionReference<"query", { conversationId: Id; advisorId?: Id }, Memory[]>(
    "advisorMemories:list",
  ),
  setMemory: makeFunctionReference<
    "mutation",
    { conversationId: Id; advisorId: Id; key: string; value: unknown },
    Id
  >("advisorMemories:setMemory"),
  updateMemory: makeFunctionReference<
    "mutation",
    { memoryId: Id; key?: string; value?: unknown },
    Id
  >("advisorMemories:updateMemory"),
  deleteMemory: makeFunctionReference<"mutation", { memoryId: Id }, null>(
    "advisorMemories:deleteMemory",
  ),
  clearAdvisorMemories: makeFunctionReference<
    "mutation",
    { conversationId: Id; advisorId: Id },
    number
  >("advisorMemories:clearAdvisorMemories"),
};

export const summaryApi = {
  /** Without `limit`: the newest hundred, oldest first. */
  getConversationSummaries: makeFunctionReference<"query", { conversationId: Id }, Summary[]>(
    "threadSummaries:getConversationSummaries",
  ),
  updateSummary: makeFunctionReference<"mutation", { summaryId: Id; content: string }, unknown>(
    "threadSummaries:updateSummary",
  ),
  deleteSummary: makeFunctionReference<"mutation", { summaryId: Id }, null>(
    "threadSummaries:deleteSummary",
  ),
};
