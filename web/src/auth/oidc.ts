// Sign-in with the server's OIDC issuer (Clerk, or any other): the authorization-code
// flow with PKCE. The browser only navigates to the issuer; the server builds the
// authorization URL from the issuer's discovery document and relays the code exchange
// (/auth/oidc/*), so the page talks to its own origin alone and a client secret, when the
// issuer needs one, never reaches it. What the return trip must match (state, nonce, the
// PKCE verifier) waits in sessionStorage: this tab's only, gone when it closes.

import { AuthFailure, postAuth } from "./authApi";
import { oidcSession, saveSession } from "./session";
import type { OidcTokenAnswer, Session } from "./session";

const PENDING_KEY = "advisor-chat.oidc-pending";
export const CALLBACK_PATH = "/signin/callback";

type Pending = {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  returnTo: string;
};

function randomText(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** Leaves for the issuer's sign-in page; resolves only if it could not (the error is the
 * server's, in words). `returnTo` is where the app opens once signed in. */
export async function startOidcSignIn(returnTo: string): Promise<void> {
  const pending: Pending = {
    state: randomText(24),
    nonce: randomText(24),
    verifier: randomText(48), // 64 characters: within RFC 7636's 43–128
    redirectUri: window.location.origin + CALLBACK_PATH,
    returnTo: returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/",
  };
  const { url } = await postAuth<{ url: string }>("/auth/oidc/authorize", {
    redirectUri: pending.redirectUri,
    codeChallenge: await challengeOf(pending.verifier),
    state: pending.state,
    nonce: pending.nonce,
  });
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  window.location.assign(url);
}

function takePending(): Pending | null {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY); // one return trip per departure
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as Pending;
  } catch {
    return null;
  }
}

const ISSUER_REFUSALS: Record<string, string> = {
  access_denied: "The sign-in was cancelled",
  login_required: "You are not signed in at the sign-in provider",
  consent_required: "The sign-in provider needs your consent first",
};

/** The signed-in session and where to go, from the issuer's redirect back (`search` is
 * the callback URL's query). Throws an AuthFailure in words when the issuer refused,
 * the return trip does not match this tab's departure, or the server refused the code. */
async function complete(search: string): Promise<{ session: Session; returnTo: string }> {
  const params = new URLSearchParams(search);
  const pending = takePending();
  const issuerError = params.get("error");
  if (issuerError !== null) {
    const description = params.get("error_description");
    const text = ISSUER_REFUSALS[issuerError] ?? `The sign-in provider refused (${issuerError})`;
    throw new AuthFailure(description ? `${text}: ${description}` : text, "OIDC_REFUSED");
  }
  const code = params.get("code");
  if (pending === null || code === null || params.get("state") !== pending.state) {
    throw new AuthFailure(
      "This sign-in link is not the one this tab started, or it was already used. Please sign in again",
      "OIDC_STATE",
    );
  }
  const answer = await postAuth<OidcTokenAnswer>("/auth/oidc/token", {
    code,
    codeVerifier: pending.verifier,
    redirectUri: pending.redirectUri,
    nonce: pending.nonce,
  });
  const session = oidcSession(answer);
  saveSession(session);
  return { session, returnTo: pending.returnTo };
}

// A code works once, and React's development mode runs effects twice: one exchange per
// callback URL, shared by whoever asks.
const exchanges = new Map<string, Promise<{ session: Session; returnTo: string }>>();

export function completeOidcSignIn(search: string): Promise<{ session: Session; returnTo: string }> {
  let exchange = exchanges.get(search);
  if (exchange === undefined) {
    exchange = complete(search);
    exchanges.set(search, exchange);
  }
  return exchange;
}
