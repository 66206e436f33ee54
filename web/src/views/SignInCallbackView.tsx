// Where the OIDC issuer sends the browser back: the code is exchanged (once), the session
// kept, and the app opens where the sign-in started. A refusal or a stale link is shown in
// words with the way back to the sign-in page.

import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { useAuth } from "../auth/AuthProvider";
import { completeOidcSignIn } from "../auth/oidc";
import { describeAuthFailure } from "../auth/authApi";
import { SignInStep } from "../components/SignInStep";

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
  if (error === null) return <SignInStep waiting="Finishing the sign-in with your provider." />;
  return (
    <SignInStep failed={error} heading="The sign-in did not complete">
      <p className="switch">
        <Link href="/signin">Back to sign in</Link>
      </p>
    </SignInStep>
  );
}
