// The signed-in frame: a skip link, the navigation, the connection state, the theme and
// the account; each view renders inside <main>.

import { LogOut, MessagesSquare, Store, UserRoundPen } from "lucide-react";
import type { ReactNode } from "react";
import { Link, useLocation } from "wouter";
import { useAuth } from "../auth/AuthProvider";
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
          <span className="account" title={session?.email}>
            {session?.email}
          </span>
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
