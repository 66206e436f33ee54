// What the server offers (GET /api/config): which sign-ins, and which model answers.
// No secrets travel here.

import { useEffect, useState } from "react";

export type ServerConfig = {
  version: string;
  // oidc.browser: the issuer's sign-in can be started from this app (a client id is set);
  // without it the server accepts the issuer's tokens from other clients only.
  signIn: { local: boolean; oidc: { issuer: string; name: string; browser: boolean } | null };
  model: { embedded: boolean };
};

let pending: Promise<ServerConfig | null> | null = null;

function loadConfig(): Promise<ServerConfig | null> {
  pending ??= fetch("/api/config")
    .then((response) => (response.ok ? (response.json() as Promise<ServerConfig>) : null))
    .catch(() => null);
  return pending;
}

/** undefined while loading; null if the server could not say. */
export function useServerConfig(): ServerConfig | null | undefined {
  const [config, setConfig] = useState<ServerConfig | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void loadConfig().then((value) => {
      if (live) setConfig(value);
    });
    return () => {
      live = false;
    };
  }, []);
  return config;
}
