// The signed-in user's tokens, local account or OIDC issuer alike: kept in localStorage so
// a reload (and another tab) stays signed in, and renewed through the server. A local
// refresh token is spent by its use (presenting it again after a short grace ends the
// sign-in), so every refresh, in every tab, runs under one Web Lock and first re-reads
// what another tab may already have renewed.

import { AuthFailure, postAuth } from "./authApi";

/** `local`: our own account (/auth/*); `oidc`: the configured issuer's (/auth/oidc/*),
 * whose ID token is the bearer token and which may give no refresh token at all. */
export type SessionKind = "local" | "oidc";

export type Session = {
  kind: SessionKind;
  accessToken: string;
  refreshToken: string | null; // null only for an issuer that gave none
  expiresAt: number; // ms since the epoch; the access token is refused after it
  userId: string; // local: the users row; oidc: the issuer's subject
  email: string;
};

type TokenAnswer = {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  userId: string;
  deviceToken?: string;
};

/** /auth/oidc/token's answer: the issuer's ID token, and its refresh token if any. */
export type OidcTokenAnswer = {
  accessToken: string;
  refreshToken: string | null;
  expiresIn: number;
};

const ENDPOINTS: Record<SessionKind, { refresh: string; signOut: string }> = {
  local: { refresh: "/auth/refresh", signOut: "/auth/signout" },
  oidc: { refresh: "/auth/oidc/token", signOut: "/auth/oidc/signout" },
};
const SESSION_KEY = "advisor-chat.session";
const DEVICE_KEY = "advisor-chat.devices";
const REFRESH_LOCK = "advisor-chat.refresh";
// Renew this long before expiry, so a token never lapses between a check and its use.
const EARLY_MS = 60_000;

export function loadSession(): Session | null {
  const raw = localStorage.getItem(SESSION_KEY);
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<Session>;
    const kind: unknown = parsed.kind ?? "local"; // stored before issuers' sign-ins existed
    if (
      (kind === "local" || kind === "oidc") &&
      typeof parsed.accessToken === "string" &&
      (typeof parsed.refreshToken === "string" || (kind === "oidc" && parsed.refreshToken === null)) &&
      typeof parsed.expiresAt === "number" &&
      typeof parsed.userId === "string" &&
      typeof parsed.email === "string"
    ) {
      return { ...parsed, kind } as Session;
    }
  } catch {
    // A damaged entry reads as signed out; the next sign-in overwrites it.
  }
  return null;
}

export function saveSession(session: Session | null): void {
  if (session === null) localStorage.removeItem(SESSION_KEY);
  else localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

// Device tokens let a known browser sign in past the per-account throttle (the server's
// auth/devices.py); one per email this browser has signed in with.
function deviceTokens(): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(DEVICE_KEY) ?? "{}");
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function keepDeviceToken(email: string, token: string | undefined): void {
  if (token === undefined) return;
  localStorage.setItem(DEVICE_KEY, JSON.stringify({ ...deviceTokens(), [email]: token }));
}

function sessionFrom(answer: TokenAnswer, email: string): Session {
  return {
    kind: "local",
    accessToken: answer.accessToken,
    refreshToken: answer.refreshToken,
    expiresAt: Date.now() + answer.expiresIn * 1000,
    userId: answer.userId,
    email,
  };
}

function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function signUp(email: string, password: string, name: string): Promise<Session> {
  const body: Record<string, string> = { email, password };
  if (name.trim() !== "") body.name = name.trim();
  const answer = await postAuth<TokenAnswer>("/auth/signup", body);
  keepDeviceToken(normalEmail(email), answer.deviceToken);
  const session = sessionFrom(answer, normalEmail(email));
  saveSession(session);
  return session;
}

export async function signIn(email: string, password: string): Promise<Session> {
  const body: Record<string, string> = { email, password };
  const device = deviceTokens()[normalEmail(email)];
  if (device !== undefined) body.deviceToken = device;
  const answer = await postAuth<TokenAnswer>("/auth/signin", body);
  keepDeviceToken(normalEmail(email), answer.deviceToken);
  const session = sessionFrom(answer, normalEmail(email));
  saveSession(session);
  return session;
}

/** A session from the issuer's tokens: who it is comes from the ID token's claims (the
 * server verified it before answering); a refresh that gave no new refresh token keeps
 * the one it used, as OAuth has it. */
export function oidcSession(answer: OidcTokenAnswer, previousRefresh: string | null = null): Session {
  const claims = tokenClaims(answer.accessToken);
  return {
    kind: "oidc",
    accessToken: answer.accessToken,
    refreshToken: answer.refreshToken ?? previousRefresh,
    expiresAt: Date.now() + answer.expiresIn * 1000,
    userId: typeof claims.sub === "string" ? claims.sub : "",
    email: typeof claims.email === "string" ? claims.email : "",
  };
}

function tokenClaims(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A local account's new password. The server signs out every session of the account
 * with it, this one included, so the tab signs in again at once with the new password:
 * only the other devices are signed out. */
export async function changePassword(session: Session, oldPassword: string, newPassword: string): Promise<Session> {
  // Under the refresh lock: a renewal the ended session sets off waits for the new one.
  return withRefreshLock(async () => {
    await postAuth("/auth/password", { oldPassword, newPassword }, session.accessToken);
    const renewed = await signIn(session.email, newPassword);
    // The page may reload onto the new sign-in (its queries were refused meanwhile): the
    // confirmation waits here for whichever page shows it.
    sessionStorage.setItem(PASSWORD_CHANGED_KEY, "1");
    return renewed;
  });
}

const PASSWORD_CHANGED_KEY = "advisor-chat.password-changed";

/** Whether a password change is waiting to be confirmed to the user; asking clears it. */
export function takePasswordChanged(): boolean {
  const waiting = sessionStorage.getItem(PASSWORD_CHANGED_KEY) !== null;
  sessionStorage.removeItem(PASSWORD_CHANGED_KEY);
  return waiting;
}

export async function signOut(session: Session): Promise<void> {
  saveSession(null);
  await endOnServer(session);
}

async function endOnServer(session: Session): Promise<void> {
  if (session.refreshToken === null) return; // nothing the server could end
  try {
    await postAuth(ENDPOINTS[session.kind].signOut, { refreshToken: session.refreshToken });
  } catch {
    // Signed out here already; the server's session ends at its expiry at the latest.
  }
}

export function isFresh(session: Session): boolean {
  return session.expiresAt - Date.now() > EARLY_MS;
}

async function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  if ("locks" in navigator) return navigator.locks.request(REFRESH_LOCK, work);
  return work();
}

/** A session whose access token is good for a while yet: the stored one when it is (and,
 * with `force`, when another tab renewed it since `current` was read), else a refreshed
 * one. Null when the sign-in has ended (signed out elsewhere, or the token refused). */
export async function renewedSession(current: Session, force: boolean): Promise<Session | null> {
  return withRefreshLock(async () => {
    const stored = loadSession();
    if (stored === null || stored.userId !== current.userId) return null;
    const renewedElsewhere = stored.accessToken !== current.accessToken;
    if (isFresh(stored) && (!force || renewedElsewhere)) return stored;
    if (stored.refreshToken === null) {
      // An issuer that gave no refresh token: the ID token holds until it expires, then
      // the user signs in again.
      if (stored.expiresAt > Date.now() && !force) return stored;
      saveSession(null);
      return null;
    }
    try {
      const session = await refreshed(stored, stored.refreshToken);
      if (loadSession()?.refreshToken !== stored.refreshToken) {
        // Signed out (or in afresh) while this refresh was under way: end the sign-in it
        // renewed instead of bringing it back.
        await endOnServer(session);
        return loadSession();
      }
      saveSession(session);
      return session;
    } catch (error) {
      if (error instanceof AuthFailure && error.code === "UNAUTHENTICATED") {
        // Ended, unless this browser has signed in afresh meanwhile: keep that one.
        if (loadSession()?.refreshToken !== stored.refreshToken) return loadSession();
        saveSession(null);
        return null;
      }
      throw error; // offline or throttled: the sign-in stands, the caller tries again
    }
  });
}

async function refreshed(stored: Session, refreshToken: string): Promise<Session> {
  if (stored.kind === "oidc") {
    const answer = await postAuth<OidcTokenAnswer>(ENDPOINTS.oidc.refresh, { refreshToken });
    return oidcSession(answer, refreshToken);
  }
  const answer = await postAuth<TokenAnswer>(ENDPOINTS.local.refresh, { refreshToken });
  return sessionFrom(answer, stored.email);
}

/** Calls `listener` when another tab signs in or out (the storage event fires only in
 * the other tabs). */
export function onSessionChange(listener: (session: Session | null) => void): () => void {
  const handler = (event: StorageEvent) => {
    if (event.key === SESSION_KEY || event.key === null) listener(loadSession());
  };
  window.addEventListener("storage", handler);
  return () => {
    window.removeEventListener("storage", handler);
  };
}
