// An issuer's user has no users row until `users:store` makes one from their verified
// token (as the original app did with Clerk); it also brings their name, email and image
// up to date. Until it has answered, the views (which read the row) wait here; a refusal
// (a deleted account, a subject another sign-in holds) is shown in words. A local account's
// row exists from sign-up: nothing to wait for.

import { useConvexAuth, useMutation } from "convex/react";
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { useAuth } from "../auth/AuthProvider";
import { api } from "../lib/api";
import { messageOf } from "./ErrorNote";
import { SignInStep } from "./SignInStep";

type RowState = { subject: string; error: unknown } | { subject: string; ready: true };

export function AccountGate({ children }: { children: ReactNode }) {
  const { session, signOut } = useAuth();
  const { isAuthenticated } = useConvexAuth();
  const store = useMutation(api.users.store);
  const subject = session?.kind === "oidc" ? session.userId : null;
  const [row, setRow] = useState<RowState | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (subject === null || !isAuthenticated) return;
    let live = true;
    store({}).then(
      () => {
        if (live) setRow({ subject, ready: true });
      },
      (error: unknown) => {
        if (live) setRow({ subject, error });
      },
    );
    return () => {
      live = false;
    };
  }, [subject, isAuthenticated, store, attempt]);

  if (subject === null || (row?.subject === subject && "ready" in row)) return <>{children}</>;
  const failed = row?.subject === subject && "error" in row ? row.error : null;
  if (failed === null) return <SignInStep waiting="Setting up your account." />;
  return (
    <SignInStep failed={messageOf(failed)} heading="Your account could not be opened">
      <div className="dialog-actions">
        <button
          type="button"
          className="primary"
          onClick={() => {
            setRow(null);
            setAttempt((n) => n + 1);
          }}
        >
          Try again
        </button>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </SignInStep>
  );
}
