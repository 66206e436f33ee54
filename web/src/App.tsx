// Signed out: the sign-in pages. Signed in: the shell and its views, live through the
// Convex client the user's token authenticates.

import { ConvexProviderWithAuth } from "convex/react";
import type { ConvexReactClient } from "convex/react";
import { Redirect, Route, Switch } from "wouter";
import { AuthProvider, useAuth, useConvexAuthBridge } from "./auth/AuthProvider";
import { CALLBACK_PATH } from "./auth/oidc";
import { AccountGate } from "./components/AccountGate";
import { Failsafe } from "./components/Failsafe";
import { Shell } from "./components/Shell";
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
        <Failsafe fallback={<Broken />}>
          <Routes />
        </Failsafe>
      </ConvexProviderWithAuth>
    </AuthProvider>
  );
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
