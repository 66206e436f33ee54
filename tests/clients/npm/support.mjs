// What the client scripts share: waiting for a condition (never for a time) and a JSON POST
// to the server's own endpoints (/auth/...).

// Resolves once `condition()` holds, polling every `pollMs`; rejects naming `what` after
// `stepMs` (each condition is met within milliseconds: the bound only stops a hang).
export function until(condition, what, stepMs = 10_000, pollMs = 5) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (condition()) return resolve();
      if (Date.now() - started > stepMs) return reject(new Error(`timed out: ${what}`));
      setTimeout(poll, pollMs);
    };
    poll();
  });
}

export async function post(url, path, body) {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}
