// The server's /auth endpoints answer JSON; a failure is Convex's error envelope
// ({errorMessage, errorData: {code, ...}}), turned here into an AuthFailure whose
// message is the server's own words.

export class AuthFailure extends Error {
  readonly code: string;
  readonly field: string | undefined;
  readonly retryAfter: number | undefined; // seconds, on RATE_LIMITED

  constructor(message: string, code: string, field?: string, retryAfter?: number) {
    super(message);
    this.name = "AuthFailure";
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

type ErrorEnvelope = {
  errorMessage?: unknown;
  errorData?: { code?: unknown; field?: unknown; retryAfter?: unknown };
};

/** POST a JSON body to one of the server's /auth endpoints; `bearer`: the access token of
 * a call made as the signed-in user (a password change). */
export async function postAuth<T>(
  path: string,
  body: Record<string, string>,
  bearer?: string,
): Promise<T> {
  let response: Response;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (bearer !== undefined) headers.Authorization = `Bearer ${bearer}`;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  } catch {
    throw new AuthFailure("The server cannot be reached. Check your connection and try again.", "NETWORK");
  }
  let answer: unknown = null;
  try {
    answer = await response.json();
  } catch {
    // A proxy's HTML error page, say: described below by its status.
  }
  if (response.ok) return answer as T;
  const envelope = (answer ?? {}) as ErrorEnvelope;
  const data = envelope.errorData ?? {};
  const message =
    typeof envelope.errorMessage === "string"
      ? envelope.errorMessage
      : `The server answered ${response.status} ${response.statusText}.`;
  throw new AuthFailure(
    message,
    typeof data.code === "string" ? data.code : "HTTP_" + String(response.status),
    typeof data.field === "string" ? data.field : undefined,
    typeof data.retryAfter === "number" ? data.retryAfter : undefined,
  );
}

/** A failed sign-in in words: the server's (or issuer's) message as a sentence, and how
 * long to wait when throttled. */
export function describeAuthFailure(error: unknown): string {
  if (!(error instanceof AuthFailure)) return "Something went wrong. Please try again.";
  if (error.code === "RATE_LIMITED" && error.retryAfter !== undefined) {
    return `Too many attempts: ${error.message}. You can try again in ${error.retryAfter} seconds.`;
  }
  const text = error.message.charAt(0).toUpperCase() + error.message.slice(1);
  return /[.!?]$/.test(text) ? text : text + ".";
}
