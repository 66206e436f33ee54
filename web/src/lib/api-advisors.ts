// The advisor functions "My advisors" calls (src/advisor_chat/functions/advisors.py),
// typed by hand as lib/api.ts does, with the persona's shape (schema/tables.py PERSONA).

import { makeFunctionReference } from "convex/server";
import type { Advisor, Id } from "./api";

export type Education = {
  degreeLevel?: string;
  degreeName?: string;
  major?: string;
  institution?: string;
  graduationYear?: number;
};

export type Location = {
  city?: string;
  region?: string;
  country?: string;
  countryCode?: string;
  timezone?: string;
};

/** A persona as the server stores it. Keys the form does not edit are kept as they are. */
export type FullPersona = {
  name: string;
  title: string;
  image?: string;
  oneLiner?: string;
  archetype?: string;
  temperament?: string;
  bio?: string;
  detailedBackground?: string;
  experience?: string;
  specialties?: string[];
  expertise?: string[];
  personality?: string[];
  personalInterests?: string[];
  coreBeliefsOrPrinciples?: string[];
  communicationStyle?: string;
  education?: Education;
  location?: Location;
  adviceDelivery?: { signOff?: string; [key: string]: unknown };
  [key: string]: unknown;
};

export type CustomAdvisor = Omit<Advisor, "persona"> & { persona: FullPersona };

/** What createAdvisor and updateAdvisor take beside the persona. */
export type AdvisorFields = {
  persona: FullPersona;
  imageUrl?: string;
  category?: string;
  tags: string[];
};

export const advisorsApi = {
  /** Active public advisors and the caller's own in every status (archived ones too). */
  getAllAdvisors: makeFunctionReference<"query", Record<string, never>, CustomAdvisor[]>(
    "advisors:getAllAdvisors",
  ),
  createAdvisor: makeFunctionReference<"mutation", AdvisorFields, Id>("advisors:createAdvisor"),
  createAdvisorFromJSON: makeFunctionReference<
    "mutation",
    { advisor: Record<string, unknown> },
    Id
  >("advisors:createAdvisorFromJSON"),
  updateAdvisor: makeFunctionReference<
    "mutation",
    // expectedUpdatedAt: the version the edit started from; a newer one is CONFLICT.
    AdvisorFields & { advisorId: Id; expectedUpdatedAt?: number },
    null
  >("advisors:updateAdvisor"),
  /** The same function with the status alone: "active" restores an archived advisor. */
  setAdvisorStatus: makeFunctionReference<
    "mutation",
    { advisorId: Id; status: Advisor["status"] },
    null
  >("advisors:updateAdvisor"),
  archiveAdvisor: makeFunctionReference<"mutation", { advisorId: Id }, null>(
    "advisors:archiveAdvisor",
  ),
  deleteAdvisor: makeFunctionReference<"mutation", { advisorId: Id }, null>(
    "advisors:deleteAdvisor",
  ),
};
