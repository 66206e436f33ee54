// The signed-in person's account: the name advisors address them by, the password of a
// local account (an issuer's sign-in keeps its own), and deleting the account with
// everything in it. Each part saves on its own and says in words what happened.

import { useMutation, useQuery } from "convex/react";
import { useEffect, useId, useRef, useState } from "react";
import type { SyntheticEvent } from "react";
import { AuthFailure, describeAuthFailure } from "../auth/authApi";
import { useAuth } from "../auth/AuthProvider";
import { takePasswordChanged } from "../auth/session";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorNote } from "../components/ErrorNote";
import { api } from "../lib/api";
import { useServerConfig } from "../lib/config";

export function AccountView() {
  const { session } = useAuth();
  const me = useQuery(api.users.current, {});
  const config = useServerConfig();
  return (
    <section className="page account-page" aria-labelledby="account-heading">
      <h1 id="account-heading">Your account</h1>
      <p className="muted">
        Signed in as <strong>{me?.email ?? session?.email}</strong>
        {me?.plan !== undefined && <> on the {me.plan} plan</>}.
      </p>
      {me != null && <ProfileForm key={me._id} name={me.name ?? ""} />}
      {session?.kind === "local" ? (
        <PasswordForm />
      ) : (
        <section aria-labelledby="password-heading">
          <h2 id="password-heading" className="section-heading">
            Password
          </h2>
          <p className="muted">
            You sign in with {config?.signIn.oidc?.name ?? "your sign-in provider"}: your password
            is kept there.
          </p>
        </section>
      )}
      <DeleteAccount />
    </section>
  );
}

function ProfileForm({ name: saved }: { name: string }) {
  const update = useMutation(api.users.updateUserProfile);
  const [name, setName] = useState(saved);
  const [done, setDone] = useState("");
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function save(event?: SyntheticEvent) {
    event?.preventDefault();
    setBusy(true);
    setDone("");
    setFailure(null);
    try {
      await update({ name: name.trim() });
      setDone(name.trim() === "" ? "Your name is cleared." : "Your name is saved.");
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="profile-heading">
      <h2 id="profile-heading" className="section-heading">
        Profile
      </h2>
      <form className="account-form" onSubmit={(event) => void save(event)} noValidate>
        <label className="field">
          <span>Your name</span>
          <input
            value={name}
            onChange={(e) => { setName(e.target.value); }}
            autoComplete="name"
            maxLength={200}
          />
        </label>
        <p className="muted small">Advisors address you by it.</p>
        {failure !== null && <ErrorNote error={failure} onRetry={() => void save()} />}
        <div role="status">{done !== "" && <p className="ok-note">{done}</p>}</div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Saving…" : "Save name"}
          </button>
        </div>
      </form>
    </section>
  );
}

function PasswordForm() {
  const { changePassword } = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [problem, setProblem] = useState<{ text: string; field: string | undefined } | null>(null);
  const [done, setDone] = useState(takePasswordChanged);
  const [busy, setBusy] = useState(false);
  const id = useId();
  // A change can outlive this form (the page reloads onto the new sign-in): only a form
  // still shown takes the confirmation, else the reloaded page does.
  const shown = useRef(true);
  useEffect(() => {
    shown.current = true;
    return () => {
      shown.current = false;
    };
  }, []);

  async function submit(event: SyntheticEvent) {
    event.preventDefault();
    setDone(false);
    if (next !== again) {
      setProblem({ text: "The new passwords do not match.", field: "again" });
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      await changePassword(current, next);
      setCurrent("");
      setNext("");
      setAgain("");
      if (shown.current) setDone(takePasswordChanged());
    } catch (failure) {
      const field = failure instanceof AuthFailure ? failure.field : undefined;
      setProblem({ text: describeAuthFailure(failure), field });
    } finally {
      setBusy(false);
    }
  }

  const shared = { problemField: problem?.field, problemId: `${id}-problem` };
  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading" className="section-heading">
        Password
      </h2>
      <form className="account-form" onSubmit={(event) => void submit(event)} noValidate>
        <PasswordInput label="Current password" field="oldPassword" value={current} onChange={setCurrent} {...shared} />
        <PasswordInput label="New password" field="newPassword" value={next} onChange={setNext} {...shared} />
        <PasswordInput label="New password, again" field="again" value={again} onChange={setAgain} {...shared} />
        <p className="muted small">Changing it signs out your other devices; this one stays signed in.</p>
        {problem !== null && (
          <p id={`${id}-problem`} className="form-error" role="alert">
            {problem.text}
          </p>
        )}
        <div role="status">
          {done && <p className="ok-note">Your password is changed. Your other devices are signed out.</p>}
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Changing…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}

type PasswordInputProps = {
  label: string;
  field: string; // the name the server's refusal gives it
  value: string;
  onChange: (value: string) => void;
  problemField: string | undefined;
  problemId: string;
};

/** One password box, marked invalid and described by the problem when it is the one named. */
function PasswordInput({ label, field, value, onChange, problemField, problemId }: PasswordInputProps) {
  const named = problemField === field;
  return (
    <label className="field">
      <span>{label}</span>
      <input
        type="password"
        value={value}
        onChange={(e) => { onChange(e.target.value); }}
        autoComplete={field === "oldPassword" ? "current-password" : "new-password"}
        aria-invalid={named ? true : undefined}
        aria-describedby={named ? problemId : undefined}
      />
    </label>
  );
}

function DeleteAccount() {
  const { signOut } = useAuth();
  const remove = useMutation(api.auth.deleteCurrentUser);
  const [failure, setFailure] = useState<unknown>(null);

  async function confirm() {
    setFailure(null);
    try {
      await remove({});
    } catch (error) {
      setFailure(error);
      return;
    }
    await signOut();
  }

  return (
    <section aria-labelledby="delete-heading">
      <h2 id="delete-heading" className="section-heading">
        Delete your account
      </h2>
      <p className="muted">
        Your conversations, what your advisors remember, the advisors you made and your
        board are deleted with it. This cannot be undone.
      </p>
      {failure !== null && <ErrorNote error={failure} onRetry={() => void confirm()} />}
      <ConfirmDialog
        trigger={
          <button type="button" className="danger">
            Delete my account
          </button>
        }
        title="Delete your account?"
        description="Everything in it is deleted for good: conversations, memories, your advisors and your board."
        action="Delete my account"
        onConfirm={() => void confirm()}
      />
    </section>
  );
}
