// The signed-in frame: a skip link, the navigation, the connection state, the theme and
// the account; each view renders inside <main>.

import { useMutation } from "convex/react";
import { LogOut, MessagesSquare, Store, UserRound, UserRoundPen } from "lucide-react";
import { useEffect } from "react";
import type { ReactNode } from "react";
import { Link, useLocation } from "wouter";
import { useAuth } from "../auth/AuthProvider";
import { api } from "../lib/api";
import { ConnectionStatus } from "./ConnectionStatus";
import { ThemeToggle } from "./ThemeToggle";

const NAV = [
  { href: "/", label: "Chat", icon: MessagesSquare, matches: (path: string) => path === "/" || path.startsWith("/chat") },
  { href: "/marketplace", label: "Marketplace", icon: Store, matches: (path: string) => path.startsWith("/marketplace") },
  { href: "/advisors", label: "My advisors", icon: UserRoundPen, matches: (path: string) => path.startsWith("/advisors") },
];

export function Shell({ children }: { children: ReactNode }) {
  const { session, signOut } = useAuth();
  const [path] = useLocation();
  usePresenceReport(path);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">AI Advisor Chat</span>
        <nav aria-label="Main">
          <ul className="nav-list">
            {NAV.map(({ href, label, icon: Icon, matches }) => (
              <li key={href}>
                <Link
                  href={href}
                  className="nav-link"
                  aria-current={matches(path) ? "page" : undefined}
                >
                  <Icon aria-hidden size={18} />
                  <span className="nav-label">{label}</span>
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <ConnectionStatus />
          <ThemeToggle />
          <Link
            href="/account"
            className="icon-button account-link"
            aria-current={path === "/account" ? "page" : undefined}
            title="Your account"
          >
            <UserRound aria-hidden size={18} />
            <span className="account">{session?.email}</span>
          </Link>
          <button
            type="button"
            className="icon-button"
            onClick={() => void signOut()}
            aria-label="Sign out"
            title="Sign out"
          >
            <LogOut aria-hidden size={18} />
          </button>
        </div>
      </header>
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

/** Tells the server which conversation this tab shows (realtime:updateUserPresence);
 * whether the user is online the server decides from their open sessions. A failed
 * report is dropped: the next page change sends another. */
function usePresenceReport(path: string): void {
  const report = useMutation(api.realtime.updateUserPresence);
  const conversationId = /^\/chat\/([^/]+)$/.exec(path)?.[1] ?? null;
  useEffect(() => {
    report({ isOnline: true, currentConversationId: conversationId }).catch(() => undefined);
  }, [conversationId, report]);
}
