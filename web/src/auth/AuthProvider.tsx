// Who is signed in, for the whole app, and the bridge that hands their access token to
// the Convex client (ConvexProviderWithAuth calls `useConvexAuthBridge`). The Convex
// client asks again, with forceRefreshToken, shortly before the token's `exp` and when
// the server refuses it: that is when the session is renewed.

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import * as sessions from "./session";
import type { Session } from "./session";

type AuthState = {
  session: Session | null;
  signIn: (email: string, password: string) => Promise<void>;
  signUp: (email: string, password: string, name: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** A session signed in elsewhere than the forms (the issuer's return trip), stored already. */
  adopt: (session: Session) => void;
  /** A local account's password: the other devices are signed out, this tab stays in. */
  changePassword: (oldPassword: string, newPassword: string) => Promise<void>;
  /** After the server refused this sign-in ("signed out"): a renewed session (this
   * browser signed in afresh, a password change in this tab) or null (it has ended). */
  recheck: () => Promise<Session | null>;
};

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(sessions.loadSession);
  const sessionRef = useRef(session);
  useEffect(() => {
    sessionRef.current = session;
  }, [session]);
  useEffect(() => sessions.onSessionChange(setSession), []);

  const value = useMemo<AuthState>(
    () => ({
      session,
      signIn: async (email, password) => {
        setSession(await sessions.signIn(email, password));
      },
      signUp: async (email, password, name) => {
        setSession(await sessions.signUp(email, password, name));
      },
      signOut: async () => {
        const current = sessionRef.current;
        setSession(null);
        if (current !== null) await sessions.signOut(current);
      },
      adopt: setSession,
      recheck: async () => {
        const current = sessionRef.current;
        if (current === null) return null;
        try {
          const renewed = await sessions.renewedSession(current, true);
          setSession(renewed);
          return renewed;
        } catch {
          return current; // unreachable: the sign-in stands
        }
      },
      changePassword: async (oldPassword, newPassword) => {
        const current = sessionRef.current;
        if (current === null) return;
        setSession(await sessions.changePassword(current, oldPassword, newPassword));
      },
    }),
    [session],
  );
  return (
    <AuthContext.Provider value={value}>
      <TokenSource.Provider value={{ sessionRef, setSession }}>{children}</TokenSource.Provider>
    </AuthContext.Provider>
  );
}

type TokenSourceValue = {
  sessionRef: React.RefObject<Session | null>;
  setSession: (session: Session | null) => void;
};
const TokenSource = createContext<TokenSourceValue | null>(null);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (state === null) throw new Error("useAuth outside AuthProvider");
  return state;
}

/** The `useAuth` ConvexProviderWithAuth expects. `fetchAccessToken` keeps one identity for
 * the whole sign-in, so the client authenticates once rather than on every render. */
export function useConvexAuthBridge() {
  const { session } = useAuth();
  const source = useContext(TokenSource);
  if (source === null) throw new Error("useConvexAuthBridge outside AuthProvider");
  const { sessionRef, setSession } = source;
  const fetchAccessToken = useCallback(
    async ({ forceRefreshToken }: { forceRefreshToken: boolean }): Promise<string | null> => {
      const current = sessionRef.current;
      if (current === null) return null;
      if (!forceRefreshToken && sessions.isFresh(current)) return current.accessToken;
      try {
        const renewed = await sessions.renewedSession(current, forceRefreshToken);
        sessionRef.current = renewed;
        setSession(renewed);
        return renewed?.accessToken ?? null;
      } catch {
        return null; // unreachable server: the client asks again when it reconnects
      }
    },
    [sessionRef, setSession],
  );
  const isAuthenticated = session !== null;
  return useMemo(
    () => ({ isLoading: false, isAuthenticated, fetchAccessToken }),
    [isAuthenticated, fetchAccessToken],
  );
}
