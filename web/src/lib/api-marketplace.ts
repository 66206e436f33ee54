// The marketplace's server functions and the persona fields its profile shows, typed by
// hand as lib/api.ts is. Shapes follow src/advisor_chat/functions/{marketplace,
// advisor_search,advisors,teams}.py and the persona schema in schema/tables.py.

import { makeFunctionReference } from "convex/server";
import type { Advisor, Id } from "./api";

export type Education = {
  degreeLevel?: string;
  degreeName?: string;
  major?: string;
  institution?: string;
  graduationYear?: number;
};

export type FullPersona = Advisor["persona"] & {
  description?: string;
  temperament?: string;
  detailedBackground?: string;
  experience?: string;
  specialties?: string[];
  expertise?: string[];
  personalInterests?: string[];
  personality?: string[];
  communicationStyle?: string;
  coreBeliefsOrPrinciples?: string[];
  education?: Education;
  additionalEducation?: Education[];
  location?: {
    city?: string;
    region?: string;
    country?: string;
    countryCode?: string;
    timezone?: string;
  };
};

export type MarketAdvisor = Omit<Advisor, "persona"> & {
  persona: FullPersona;
  roleDefinition?: { mission?: string };
  metadata?: { teamAffiliations?: { teamId?: string; teamName?: string; roleName?: string }[] };
};

export type MarketplaceStats = {
  totalAdvisors: number;
  featuredAdvisors: number;
  categories: Record<string, number>;
  tags?: Record<string, number>;
};

export type SearchResult = {
  advisors: MarketAdvisor[];
  matched: number;
  scanned: number;
  complete: boolean;
};

export type TeamRole = {
  advisorId: Id;
  roleName?: string;
  roleDescription?: string;
  sessionPriority?: number;
};

export type TeamTemplate = {
  _id: Id;
  id: string;
  name: string;
  description: string;
  tagline?: string;
  category: string;
  icon?: string;
  featured?: boolean;
  advisorIds: Id[];
  advisorRoles?: TeamRole[];
};

export const marketApi = {
  getMarketplaceStats: makeFunctionReference<"query", Record<string, never>, MarketplaceStats>(
    "marketplace:getMarketplaceStats",
  ),
  searchAdvisors: makeFunctionReference<
    "query",
    { query: string; category?: string; tags?: string[]; limit?: number },
    SearchResult
  >("marketplace:searchAdvisors"),
  getAdvisorsByTags: makeFunctionReference<"query", { tags: string[] }, MarketAdvisor[]>(
    "advisors:getAdvisorsByTags",
  ),
  getAdvisorById: makeFunctionReference<"query", { advisorId: Id }, MarketAdvisor>(
    "advisors:getAdvisorById",
  ),
  getTeamTemplates: makeFunctionReference<
    "query",
    { category?: string; featured?: boolean },
    TeamTemplate[]
  >("teams:getTeamTemplates"),
  selectTeam: makeFunctionReference<"mutation", { teamId: string }, Id[]>(
    "marketplace:selectTeam",
  ),
};
