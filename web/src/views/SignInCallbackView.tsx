// Where the OIDC issuer sends the browser back: the code is exchanged (once), the session
// kept, and the app opens where the sign-in started. A refusal or a stale link is shown in
// words with the way back to the sign-in page.

import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { useAuth } from "../auth/AuthProvider";
import { completeOidcSignIn } from "../auth/oidc";
import { describeAuthFailure } from "../auth/authApi";

export function SignInCallbackView() {
  const { adopt } = useAuth();
  const [, navigate] = useLocation();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    completeOidcSignIn(window.location.search).then(
      ({ session, returnTo }) => {
        if (!live) return;
        // One render: the signed-in app at returnTo, the code gone from the address bar.
        navigate(returnTo, { replace: true });
        adopt(session);
      },
      (failure: unknown) => {
        if (live) setError(describeAuthFailure(failure));
      },
    );
    return () => {
      live = false;
    };
  }, [adopt, navigate]);
  return (
    <div className="auth-page">
      <main id="main" className="auth-card">
        {error === null ? (
          <>
            <h1>Signing you in…</h1>
            <p className="muted" role="status">
              Finishing the sign-in with your provider.
            </p>
          </>
        ) : (
          <>
            <h1>The sign-in did not complete</h1>
            <p className="form-error" role="alert">
              {error}
            </p>
            <p className="switch">
              <Link href="/signin">Back to sign in</Link>
            </p>
          </>
        )}
      </main>
    </div>
  );
}
