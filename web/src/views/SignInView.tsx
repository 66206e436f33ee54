// Sign in and sign up with a local account, or with the server's OIDC issuer (Clerk, say)
// when it offers one. The server's own message is shown in words; a throttled attempt
// says how long to wait.

import { useState } from "react";
import type { SyntheticEvent } from "react";
import { Link, useLocation } from "wouter";
import { AuthFailure, describeAuthFailure } from "../auth/authApi";
import { useAuth } from "../auth/AuthProvider";
import { startOidcSignIn } from "../auth/oidc";
import { ThemeToggle } from "../components/ThemeToggle";
import { useServerConfig } from "../lib/config";

type Mode = "signin" | "signup";

export function SignInView({ mode }: { mode: Mode }) {
  const { signIn, signUp } = useAuth();
  const config = useServerConfig();
  const [, navigate] = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<{ text: string; field: string | undefined } | null>(null);
  const [busy, setBusy] = useState(false);
  const signingUp = mode === "signup";

  async function submit(event: SyntheticEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signingUp) await signUp(email, password, name);
      else await signIn(email, password);
      navigate("/");
    } catch (failure) {
      setError({
        text: describeAuthFailure(failure),
        field: failure instanceof AuthFailure ? failure.field : undefined,
      });
    } finally {
      setBusy(false);
    }
  }

  async function continueWithIssuer() {
    setBusy(true);
    setError(null);
    try {
      await startOidcSignIn("/"); // leaves the page when it works
    } catch (failure) {
      setError({ text: describeAuthFailure(failure), field: undefined });
      setBusy(false);
    }
  }

  const oidc = config?.signIn.oidc;
  const heading = signingUp ? "Create your account" : "Sign in";
  return (
    <div className="auth-page">
      <header className="auth-header">
        <span className="brand">AI Advisor Chat</span>
        <ThemeToggle />
      </header>
      <main id="main" className="auth-card">
        <h1>{heading}</h1>
        <p className="muted">
          {signingUp
            ? "Your advisory board is a minute away."
            : "Welcome back to your advisory board."}
        </p>
        {oidc?.browser === true && (
          <>
            <button
              type="button"
              className="wide"
              disabled={busy}
              onClick={() => void continueWithIssuer()}
            >
              Continue with {oidc.name}
            </button>
            <p className="or-divider">
              <span>or with {signingUp ? "a new account" : "your email"}</span>
            </p>
          </>
        )}
        <form onSubmit={(event) => void submit(event)} noValidate>
          {signingUp && (
            <label className="field">
              <span>Name (optional)</span>
              <input value={name} onChange={(e) => { setName(e.target.value); }} autoComplete="name" />
            </label>
          )}
          <label className="field">
            <span>Email</span>
            <input
              type="email"
              value={email}
              onChange={(e) => { setEmail(e.target.value); }}
              autoComplete="email"
              required
              aria-invalid={error?.field === "email" ? true : undefined}
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              type="password"
              value={password}
              onChange={(e) => { setPassword(e.target.value); }}
              autoComplete={signingUp ? "new-password" : "current-password"}
              required
              aria-invalid={error?.field === "password" ? true : undefined}
            />
          </label>
          {error !== null && (
            <p className="form-error" role="alert">
              {error.text}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Please wait…" : signingUp ? "Create account" : "Sign in"}
          </button>
        </form>
        <p className="switch">
          {signingUp ? (
            <>
              Have an account? <Link href="/signin">Sign in</Link>
            </>
          ) : (
            <>
              New here? <Link href="/signup">Create an account</Link>
            </>
          )}
        </p>
      </main>
    </div>
  );
}
