// Sign in and sign up with a local account. The server's own message is shown in words;
// a throttled attempt says how long to wait.

import { useState } from "react";
import type { SyntheticEvent } from "react";
import { Link, useLocation } from "wouter";
import { AuthFailure } from "../auth/authApi";
import { useAuth } from "../auth/AuthProvider";
import { ThemeToggle } from "../components/ThemeToggle";
import { useServerConfig } from "../lib/config";

type Mode = "signin" | "signup";

function describe(error: unknown): string {
  if (!(error instanceof AuthFailure)) return "Something went wrong. Please try again.";
  if (error.code === "RATE_LIMITED" && error.retryAfter !== undefined) {
    return `Too many attempts: ${error.message}. You can try again in ${error.retryAfter} seconds.`;
  }
  return error.message.charAt(0).toUpperCase() + error.message.slice(1) + ".";
}

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
        text: describe(failure),
        field: failure instanceof AuthFailure ? failure.field : undefined,
      });
    } finally {
      setBusy(false);
    }
  }

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
        {config?.signIn.oidc != null && (
          <p className="muted small">
            This server also accepts sign-ins from {config.signIn.oidc.issuer}; the browser
            sign-in for it is not part of this app yet.
          </p>
        )}
      </main>
    </div>
  );
}
