// How the marketplace is narrowed: a text search, one category, and any of some tags.
// Categories and tags are toggle buttons (aria-pressed), counted from the server's stats.

import { Search, X } from "lucide-react";
import { useState } from "react";
import type { MarketplaceStats } from "../../lib/api-marketplace";

export type Filter = { text: string; category: string | null; tags: string[] };

const SHOWN_TAGS = 12; // the most used; the rest one click away

type Props = {
  stats: MarketplaceStats | undefined;
  filter: Filter;
  onText: (text: string) => void;
  onCategory: (category: string | null) => void;
  onTags: (tags: string[]) => void;
};

export function Filters({ stats, filter, onText, onCategory, onTags }: Props) {
  const [allTags, setAllTags] = useState(false);
  const categories = Object.entries(stats?.categories ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const tags = Object.entries(stats?.tags ?? {}).sort(
    ([a, m], [b, n]) => n - m || a.localeCompare(b),
  );
  const shown = allTags
    ? tags
    : tags.filter(([tag], i) => i < SHOWN_TAGS || filter.tags.includes(tag));
  const toggleTag = (tag: string) => {
    onTags(filter.tags.includes(tag) ? filter.tags.filter((t) => t !== tag) : [...filter.tags, tag]);
  };
  return (
    <div className="market-filters">
      <form role="search" className="market-search" onSubmit={(event) => { event.preventDefault(); }}>
        <label htmlFor="market-search-input" className="visually-hidden">
          Search advisors
        </label>
        <Search aria-hidden size={18} className="market-search-icon" />
        <input
          id="market-search-input"
          type="search"
          placeholder="Search by name, title or expertise"
          value={filter.text}
          maxLength={500}
          onChange={(event) => { onText(event.target.value); }}
        />
      </form>
      {categories.length > 0 && (
        <div className="chip-row" role="group" aria-label="Category">
          <span className="chip-row-label" aria-hidden>
            Category
          </span>
          <button
            type="button"
            className="chip-button"
            aria-pressed={filter.category === null}
            onClick={() => { onCategory(null); }}
          >
            All{stats !== undefined && <span className="chip-count">{stats.totalAdvisors}</span>}
          </button>
          {categories.map(([category, count]) => (
            <button
              key={category}
              type="button"
              className="chip-button"
              aria-pressed={filter.category === category}
              onClick={() => { onCategory(filter.category === category ? null : category); }}
            >
              {category}
              <span className="chip-count">{count}</span>
            </button>
          ))}
        </div>
      )}
      {tags.length > 0 && (
        <div className="chip-row" role="group" aria-label="Tags">
          <span className="chip-row-label" aria-hidden>
            Tags
          </span>
          {shown.map(([tag]) => (
            <button
              key={tag}
              type="button"
              className="chip-button"
              aria-pressed={filter.tags.includes(tag)}
              onClick={() => { toggleTag(tag); }}
            >
              {tag}
            </button>
          ))}
          {tags.length > SHOWN_TAGS && (
            <button type="button" className="link-button" onClick={() => { setAllTags(!allTags); }}>
              {allTags ? "Fewer tags" : `All ${tags.length} tags`}
            </button>
          )}
          {filter.tags.length > 0 && (
            <button type="button" className="link-button" onClick={() => { onTags([]); }}>
              <X aria-hidden size={14} />
              Clear tags
            </button>
          )}
        </div>
      )}
    </div>
  );
}
