// A sign-in step that is not a form: waiting ("Signing you in…", announced politely) or
// failed (the reason as an alert, then the ways on). The callback from the issuer and the
// account's first set-up both show one.

import type { ReactNode } from "react";

type Props =
  | { waiting: string; failed?: undefined; heading?: undefined; children?: undefined }
  | { failed: string; heading: string; children: ReactNode; waiting?: undefined };

export function SignInStep({ waiting, failed, heading, children }: Props) {
  return (
    <div className="auth-page">
      <main id="main" className="auth-card">
        {failed === undefined ? (
          <>
            <h1>Signing you in…</h1>
            <p className="muted" role="status">
              {waiting}
            </p>
          </>
        ) : (
          <>
            <h1>{heading}</h1>
            <p className="form-error" role="alert">
              {failed}
            </p>
            {children}
          </>
        )}
      </main>
    </div>
  );
}
