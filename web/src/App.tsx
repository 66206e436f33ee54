// Signed out: the sign-in pages. Signed in: the shell and its views, live through the
// Convex client the user's token authenticates.

import { ConvexProviderWithAuth } from "convex/react";
import type { ConvexReactClient } from "convex/react";
import { useEffect, useRef, useState } from "react";
import { Redirect, Route, Switch } from "wouter";
import { AuthProvider, useAuth, useConvexAuthBridge } from "./auth/AuthProvider";
import { CALLBACK_PATH } from "./auth/oidc";
import { AccountGate } from "./components/AccountGate";
import { errorDataOf, messageOf } from "./components/ErrorNote";
import { Failsafe } from "./components/Failsafe";
import { Shell } from "./components/Shell";
import { SignInStep } from "./components/SignInStep";
import { AccountView } from "./views/AccountView";
import { ChatView } from "./views/ChatView";
import { MarketplaceView } from "./views/MarketplaceView";
import { MyAdvisorsView } from "./views/MyAdvisorsView";
import { SignInCallbackView } from "./views/SignInCallbackView";
import { SignInView } from "./views/SignInView";

function Routes() {
  const { session } = useAuth();
  if (session === null) {
    return (
      <Switch>
        <Route path="/signup">
          <SignInView mode="signup" />
        </Route>
        <Route path="/signin">
          <SignInView mode="signin" />
        </Route>
        <Route path={CALLBACK_PATH} component={SignInCallbackView} />
        <Route>
          <Redirect to="/signin" />
        </Route>
      </Switch>
    );
  }
  return (
    <AccountGate>
      <Shell>
        <Switch>
          <Route path="/" component={ChatView} />
          <Route path="/chat/:conversationId" component={ChatView} />
          <Route path="/marketplace" component={MarketplaceView} />
          <Route path="/advisors" component={MyAdvisorsView} />
          <Route path="/account" component={AccountView} />
          <Route>
            <Redirect to="/" />
          </Route>
        </Switch>
      </Shell>
    </AccountGate>
  );
}

export function App({ client }: { client: ConvexReactClient }) {
  return (
    <AuthProvider>
      <ConvexProviderWithAuth client={client} useAuth={useConvexAuthBridge}>
        <Guarded />
      </ConvexProviderWithAuth>
    </AuthProvider>
  );
}

/** The routes, with what a failure leaves. A sign-in the server ended under the page (the
 * password changed here or elsewhere, signed out elsewhere) is checked, not shown as a
 * breakage; a new session remounts everything. */
function Guarded() {
  const { session } = useAuth();
  return (
    <Failsafe
      key={session === null ? "signed-out" : session.userId}
      fallback={(error) => (isSignedOut(error) ? <SignInCheck /> : <Broken />)}
    >
      <Routes />
    </Failsafe>
  );
}

function isSignedOut(error: unknown): boolean {
  return errorDataOf(error)?.code === "UNAUTHENTICATED" && /signed out/.test(messageOf(error));
}

const RELOADED_KEY = "advisor-chat.reloaded-for-sign-in";

/** Asks the server whether the sign-in still holds. A renewed one (this tab changed the
 * password, or signed in afresh) reloads the page onto it, once; an ended one leaves the
 * signed-out app, which opens the sign-in page. */
function SignInCheck() {
  const { recheck } = useAuth();
  const started = useRef(false); // once: a renewal changes `recheck` itself
  const [stuck, setStuck] = useState(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void recheck().then((renewed) => {
      if (renewed === null) return; // the key changes: the sign-in page
      const last = Number(sessionStorage.getItem(RELOADED_KEY) ?? 0);
      if (Date.now() - last < 10_000) {
        setStuck(true); // reloaded a moment ago and refused again: say so instead
        return;
      }
      sessionStorage.setItem(RELOADED_KEY, String(Date.now()));
      window.location.reload();
    });
  }, [recheck]);
  return stuck ? <Broken /> : <SignInStep waiting="Checking your sign-in." />;
}

/** What an unexpected failure leaves: words and a way back, never a blank page. */
function Broken() {
  return (
    <main id="main" className="auth-card" role="alert">
      <h1>Something went wrong</h1>
      <p>The page hit an error it could not recover from. Your drafts are kept.</p>
      <button type="button" className="primary" onClick={() => { window.location.reload(); }}>
        Reload the page
      </button>
    </main>
  );
}
