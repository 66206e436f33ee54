// The user's board as a list; creating custom advisors comes with issue 17's item 4.

import { useQuery } from "convex/react";
import { Link } from "wouter";
import { Avatar } from "../components/Avatar";
import { api } from "../lib/api";

export function MyAdvisorsView() {
  const board = useQuery(api.marketplace.getUserSelectedAdvisors, {});
  return (
    <section className="page" aria-labelledby="my-advisors-heading">
      <h1 id="my-advisors-heading">My advisors</h1>
      {board === undefined ? (
        <p role="status">Loading your board…</p>
      ) : board.length === 0 ? (
        <p>
          Your board is empty. <Link href="/marketplace">Find advisors in the marketplace</Link>.
        </p>
      ) : (
        <ul className="plain-list">
          {board.map((advisor) => (
            <li key={advisor._id} className="list-row">
              <Avatar name={advisor.persona.name} imageUrl={advisor.imageUrl} />
              <div>
                <div className="strong">{advisor.persona.name}</div>
                {advisor.persona.title !== undefined && (
                  <div className="muted small">{advisor.persona.title}</div>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
