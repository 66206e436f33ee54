// The marketplace: featured advisors, team templates and everyone else, narrowed by a
// text search (on the server: marketplace:searchAdvisors), a category and tags; each
// advisor's profile in a dialog; one click adds or removes an advisor, or adds a team.
// The user's board is shown on top, live, so every change to it is seen. The filter lives
// in the address (?q=…&category=…&tag=…): a reload or a shared link shows the same
// advisors, and Back undoes a category or tag choice (typing replaces, never piles up).

import { usePaginatedQuery, useQuery } from "convex/react";
import { useEffect, useMemo, useRef, useState } from "react";
import { useLocation, useSearch } from "wouter";
import { AdvisorGrid } from "../components/marketplace/AdvisorCard";
import { AdvisorProfileDialog } from "../components/marketplace/AdvisorProfile";
import { BoardStrip } from "../components/marketplace/BoardStrip";
import { Filters } from "../components/marketplace/Filters";
import { Retryable } from "../components/marketplace/Retryable";
import type { Filter } from "../components/marketplace/Filters";
import { TeamTemplates } from "../components/marketplace/TeamTemplates";
import { api } from "../lib/api";
import { marketApi } from "../lib/api-marketplace";
import type { MarketAdvisor } from "../lib/api-marketplace";

const PAGE = 24;
const TYPING_MS = 250; // a search waits for a pause in typing
const HAS_WORD = /[\p{L}\p{N}]/u;

type Shared = { board: Set<string>; onOpenProfile: (advisor: MarketAdvisor) => void };

function filterOf(search: string): Filter {
  const params = new URLSearchParams(search);
  const tags = params.getAll("tag").filter((tag) => tag !== "");
  return { text: params.get("q") ?? "", category: params.get("category") || null, tags: [...new Set(tags)] };
}

function addressOf(filter: Filter): string {
  const params = new URLSearchParams();
  if (filter.text.trim() !== "") params.set("q", filter.text.trim());
  if (filter.category !== null) params.set("category", filter.category);
  for (const tag of filter.tags) params.append("tag", tag);
  const query = params.toString();
  return query === "" ? "/marketplace" : `/marketplace?${query}`;
}

export function MarketplaceView() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const addressed = useMemo(() => filterOf(search), [search]);
  // The search box answers every keystroke; the address follows once typing pauses.
  const [text, setText] = useState(addressed.text);
  const [searched, setSearched] = useState(addressed.text.trim());
  // Back and Forward (or a link) change the address: the search box follows.
  const [seenAddress, setSeenAddress] = useState(addressed.text);
  if (addressed.text !== seenAddress) {
    setSeenAddress(addressed.text);
    if (addressed.text !== text.trim()) {
      setText(addressed.text);
      setSearched(addressed.text);
    }
  }
  const filter: Filter = { ...addressed, text };
  const setFilter = (next: Filter, replace = false) => {
    navigate(addressOf(next), { replace });
  };
  const [profile, setProfile] = useState<MarketAdvisor | null>(null);
  const opener = useRef<HTMLElement | null>(null);
  const board = useQuery(api.marketplace.getUserSelectedAdvisors, {});
  const stats = useQuery(marketApi.getMarketplaceStats, {});
  const onBoard = new Set((board ?? []).map((advisor) => advisor._id));

  useEffect(() => {
    const timer = window.setTimeout(() => {
      setSearched(text.trim());
      const current = filterOf(window.location.search); // as it is now, not at the keystroke
      if (text.trim() !== current.text) setFilter({ ...current, text }, true);
    }, TYPING_MS);
    return () => { window.clearTimeout(timer); };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- runs on typing only
  }, [text]);

  const shared: Shared = {
    board: onBoard,
    onOpenProfile: (advisor) => {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      setProfile(advisor);
    },
  };
  const searching = HAS_WORD.test(searched);
  const filtered = searching || filter.category !== null || filter.tags.length > 0;
  const resetKey = `${searched}|${filter.category ?? ""}|${filter.tags.join(",")}`;

  return (
    <section className="page marketplace" aria-labelledby="marketplace-heading">
      <h1 id="marketplace-heading">Marketplace</h1>
      <p className="muted">
        Choose the advisors who sit on your board
        {stats !== undefined && ` from ${stats.totalAdvisors} advisors`}.
      </p>
      <BoardStrip board={board} />
      <Filters
        stats={stats}
        filter={filter}
        onText={setText}
        onCategory={(category) => { setFilter({ ...filter, category }); }}
        onTags={(tags) => { setFilter({ ...filter, tags }); }}
      />
      <Retryable key={resetKey}>
        {searching ? (
          <SearchResults text={searched} filter={filter} {...shared} />
        ) : filter.tags.length > 0 ? (
          <TagResults filter={filter} {...shared} />
        ) : filter.category !== null ? (
          <section aria-labelledby="market-category-heading">
            <h2 id="market-category-heading">In {filter.category}</h2>
            <Paged args={{ category: filter.category }} label={`Advisors in ${filter.category}`} {...shared} />
          </section>
        ) : null}
      </Retryable>
      {!filtered && (
        <>
          <section aria-labelledby="market-featured-heading">
            <h2 id="market-featured-heading">Featured advisors</h2>
            <Retryable>
              <Paged args={{ featured: true }} label="Featured advisors" {...shared} />
            </Retryable>
          </section>
          <section aria-labelledby="market-teams-heading">
            <h2 id="market-teams-heading">Team templates</h2>
            <p className="muted small">A ready-made board: one click adds every advisor in it.</p>
            <Retryable>
              <TeamTemplates board={board} />
            </Retryable>
          </section>
          <section aria-labelledby="market-all-heading">
            <h2 id="market-all-heading">More advisors</h2>
            <Retryable>
              <Paged args={{}} label="More advisors" skipFeatured {...shared} />
            </Retryable>
          </section>
        </>
      )}
      <AdvisorProfileDialog
        advisor={profile}
        onBoard={(id) => onBoard.has(id)}
        onClose={() => { setProfile(null); }}
        returnFocus={() => opener.current?.focus()}
      />
    </section>
  );
}

function Paged({
  args,
  label,
  skipFeatured = false,
  ...shared
}: Shared & {
  args: { featured?: boolean; category?: string };
  label: string;
  skipFeatured?: boolean;
}) {
  const { results, status, loadMore } = usePaginatedQuery(
    api.marketplace.getMarketplaceAdvisors,
    args,
    { initialNumItems: PAGE },
  );
  if (status === "LoadingFirstPage") return <p role="status">Loading advisors…</p>;
  // Featured advisors have their own section above: each advisor appears once.
  const shown = (results as MarketAdvisor[]).filter((a) => !(skipFeatured && a.featured === true));
  return (
    <>
      {shown.length === 0 && status === "Exhausted" ? (
        <p>No advisors here yet.</p>
      ) : (
        <AdvisorGrid advisors={shown} label={label} {...shared} />
      )}
      {status === "CanLoadMore" && (
        <button type="button" onClick={() => { loadMore(PAGE); }}>
          Show more advisors
        </button>
      )}
      {status === "LoadingMore" && <p role="status">Loading more…</p>}
    </>
  );
}

function count(n: number): string {
  return n === 1 ? "1 advisor" : `${n} advisors`;
}

function SearchResults({ text, filter, ...shared }: Shared & { text: string; filter: Filter }) {
  const args: { query: string; category?: string; tags?: string[] } = { query: text };
  if (filter.category !== null) args.category = filter.category;
  if (filter.tags.length > 0) args.tags = filter.tags;
  const found = useQuery(marketApi.searchAdvisors, args);
  return (
    <section aria-labelledby="market-results-heading">
      <h2 id="market-results-heading">Search results</h2>
      <p role="status" className="muted">
        {found === undefined
          ? "Searching…"
          : found.matched === 0
            ? `No advisors match “${text}”.`
            : `${count(found.matched)} ${found.matched === 1 ? "matches" : "match"} “${text}”${found.matched > found.advisors.length ? `; the best ${found.advisors.length} are shown` : ""}.`}
      </p>
      {found !== undefined && !found.complete && (
        <p className="small">
          The search covered the first {found.scanned} advisors: choose a category to search
          the rest.
        </p>
      )}
      {found !== undefined && (
        <AdvisorGrid advisors={found.advisors} label="Search results" {...shared} />
      )}
    </section>
  );
}

function TagResults({ filter, ...shared }: Shared & { filter: Filter }) {
  const tagged = useQuery(marketApi.getAdvisorsByTags, { tags: filter.tags });
  // The user's own advisors carry tags too; the marketplace shows the public ones.
  const shown = (tagged ?? []).filter(
    (a) => a.isPublic === true && (filter.category === null || a.category === filter.category),
  );
  return (
    <section aria-labelledby="market-tagged-heading">
      <h2 id="market-tagged-heading">Tagged {filter.tags.join(" or ")}</h2>
      <p role="status" className="muted">
        {tagged === undefined ? "Loading…" : shown.length === 0 ? "No advisors have these tags." : count(shown.length)}
      </p>
      {tagged !== undefined && <AdvisorGrid advisors={shown} label="Tagged advisors" {...shared} />}
    </section>
  );
}

