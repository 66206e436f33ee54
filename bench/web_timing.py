"""`python -m bench.web_timing [--runs N]`: the web app's two waits a person feels, in
Debian's Chromium, beside the same two through the server's plain HTTP API in the same run
(issue 17, item 9).

One `advisor-chat serve` on SQLite in a process of its own, its model the tests' scripted
OpenAI-compatible server in another (bench/provider.py), answering every request at once
(first token after 0 s; the rest of a 12-token answer 5 ms apart), so what is timed is our
own path. Each run, the browser and the HTTP client take turns on fresh conversations of
their own user (one advisor on each, so a message starts a round):

1. Page load to a usable chat view. A new browser context (empty HTTP cache: a first visit)
   holding the user's stored tokens in localStorage, as a signed-in browser has them (a
   sign-in of its own, made over HTTP before the timing), opens `/chat/<conversation>`;
   then, once the app has renewed its token (below), the same page is loaded again (warm
   cache: a return). A MutationObserver installed before the app's scripts notes
   `performance.now()` (ms since navigation start) at the first DOM change after which the
   view is *usable*:
   - the composer's textarea (`#composer-input`) is in the page, neither disabled nor
     read-only;
   - the conversation list shows the user's conversations (`.conversation-list
     .conversation-link`, at least one: getUserConversations has answered);
   - the open conversation's messages have loaded (`.message-scroller` without its
     "Loading messages…" status).
   Baseline: a new HTTP connection's POST /auth/signin answer, then POST /api/query
   `conversations:getUserConversations` (first page of 30), timed in Python. The browser
   does not sign in (its tokens are stored), so the sign-in's own cost (a password hash) is
   shown apart as well.
2. Enter to the first streamed token painted. A keydown listener (capture, on the window)
   notes `performance.now()` when Enter reaches the composer; a MutationObserver on the
   document notes the first change that puts text into an advisor's answer bubble (not
   its "Thinking…" placeholder), and the next animation frame after it, whose callback runs
   just before that frame is painted: "painted" is that frame, "in the DOM" the mutation.
   Baseline: POST /api/mutation `messages:sendMessage`, then POST /api/query as fast as
   one client can, one after another on one keep-alive connection:
   `messages:getConversationMessages` until the advisor's message exists, then
   `messages:getStreamingText` until it has text, timed in Python from before the POST.
   (HTTP polling, not the sync protocol: the browser's side is the sync protocol, so the
   ratio shows what live updates cost or save against a client asking as fast as it can.)

A page load usually renews its token soon after connecting: the Convex client, once the server
has accepted the stored token, asks for a fresh one (forceRefreshToken), and the app spends
the refresh token for it. A reload before that answer is stored presents the spent
refresh token again, which ends the sign-in, so the bench waits for the renewal (at most
RENEWAL_WAIT_MS: it is not always made) and for no renewal to be in flight, before the
reload and before the Enter timing, and says how many loads made none.

Figures: p50 and p95 over the runs of each, and browser / HTTP. Written to
bench/results/web_timing.json. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from playwright.sync_api import Browser, Page, Request, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from rich.console import Console
from rich.table import Table
from tests.web.chromium import CHROMIUM, CHROMIUM_ARGS

from advisor_chat.auth.limits import LIMIT_NAMES
from bench.chat_engine import ANSWER_MODEL, BenchError
from bench.chat_http import _free_port, _server, product_serve
from bench.provider import RemoteProvider

RESULTS = Path(__file__).parent / "results"  # gitignored
PASSWORD = "bench-password-123"  # throwaway local accounts
STEP_MS = 30_000  # one awaited condition's limit: a stuck page fails the bench, not hangs it
CALL_S = 30.0
RENEWAL_WAIT_MS = 1_500
ANSWER = [f" word{n}" for n in range(12)]  # the scripted answer's tokens
TOKEN_DELAY_S = 0.005  # between tokens after the first; the first comes at once
REFRESH = "/auth/refresh"
SESSION_KEY = "advisor-chat.session"  # where the app keeps its tokens (web/src/auth/session.ts)
# Every sign-in and renewal comes from one address and two accounts, many a minute.
AUTH_UNLIMITED = orjson.dumps({name: {"count": 1_000_000_000} for name in LIMIT_NAMES}).decode()
PAGE = {"numItems": 30, "cursor": None}  # the first page, as the app asks for it

# Installed before any of the app's scripts, in every document: the usable-view watch.
WATCH_USABLE = """
(() => {
  const usable = () => {
    const composer = document.querySelector("#composer-input");
    if (composer === null || composer.disabled || composer.readOnly) return false;
    if (document.querySelector(".conversation-list .conversation-link") === null) return false;
    const messages = document.querySelector(".message-scroller");
    return messages !== null && messages.querySelector(":scope > p[role=status]") === null;
  };
  const watch = new MutationObserver(() => {
    if (!usable()) return;
    watch.disconnect();
    window.__usableAt = performance.now();
    performance.mark("bench:usable");
  });
  const all = { subtree: true, childList: true, attributes: true, characterData: true };
  watch.observe(document, all);
})();
"""

# Armed just before Enter is pressed: the Enter-to-first-token watch.
WATCH_ANSWER = """
() => {
  window.__answer = {};
  const answered = () => [...document.querySelectorAll("li.msg-advisor .bubble-advisor")].some(
    (bubble) => bubble.textContent.trim() !== "" && bubble.querySelector(".muted") === null,
  );
  window.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.id === "composer-input") {
      window.__answer.keydown = performance.now();
      performance.mark("bench:enter");
    }
  }, { capture: true, once: true });
  const watch = new MutationObserver(() => {
    if (window.__answer.keydown === undefined || !answered()) return;
    watch.disconnect();
    window.__answer.dom = performance.now();
    performance.mark("bench:first-token");
    requestAnimationFrame(() => { window.__answer.frame = performance.now(); });
  });
  watch.observe(document, { subtree: true, childList: true, characterData: true });
}
"""


@dataclass
class Samples:
    """Each run's figures, ms."""

    browser_cold: list[float] = field(default_factory=list)  # usable view, empty cache
    browser_warm: list[float] = field(default_factory=list)  # usable view, page loaded again
    browser_cold_parsed: list[float] = field(default_factory=list)  # DOMContentLoaded, first
    browser_warm_parsed: list[float] = field(default_factory=list)  # ...and loaded again
    http_signin: list[float] = field(default_factory=list)
    http_conversations: list[float] = field(default_factory=list)
    http_load: list[float] = field(default_factory=list)  # sign-in + conversations
    browser_token_dom: list[float] = field(default_factory=list)
    browser_token_painted: list[float] = field(default_factory=list)
    http_token: list[float] = field(default_factory=list)
    http_polls: list[int] = field(default_factory=list)  # queries until the first text
    renewals_missed: int = 0  # page loads that made no token renewal in RENEWAL_WAIT_MS


@dataclass(frozen=True)
class Spread:
    p50: float
    p95: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        ordered = sorted(values)
        if len(ordered) < 2:
            only = ordered[0] if ordered else float("nan")
            return cls(only, only, only, only, len(ordered))
        cuts = statistics.quantiles(ordered, n=20, method="inclusive")
        return cls(statistics.median(ordered), cuts[18], ordered[0], ordered[-1], len(ordered))


@dataclass(frozen=True)
class Account:
    email: str
    tokens: dict[str, Any]  # the /auth/signup answer

    @property
    def access(self) -> str:
        return str(self.tokens["accessToken"])


# --- the server's plain HTTP API ----------------------------------------------------------


def _call(http: httpx.Client, kind: str, path: str, args: dict[str, Any], token: str) -> Any:
    response = http.post(
        f"/api/{kind}",
        content=orjson.dumps({"path": path, "args": args, "format": "json"}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    body = orjson.loads(response.content)
    if response.status_code != 200 or body.get("status") != "success":
        raise BenchError(f"{path}: HTTP {response.status_code} {body}")
    return body["value"]


def _account(http: httpx.Client, email: str) -> Account:
    response = http.post("/auth/signup", json={"email": email, "password": PASSWORD})
    if response.status_code != 200:
        raise BenchError(f"sign-up: HTTP {response.status_code} {response.text}")
    return Account(email, response.json())


def _conversations(http: httpx.Client, account: Account, advisor: str, count: int) -> list[str]:
    args = {"advisorIds": [advisor]}
    return [
        str(_call(http, "mutation", "conversations:createConversation", args, account.access))
        for _ in range(count)
    ]


def http_load(base: str, account: Account) -> tuple[float, float]:
    """A new client's sign-in, then its conversation list: (sign-in, list) in ms."""
    with httpx.Client(base_url=base, timeout=CALL_S) as http:  # connects at the first call
        started = time.perf_counter()
        body = {"email": account.email, "password": PASSWORD}
        response = http.post("/auth/signin", json=body)
        if response.status_code != 200:
            raise BenchError(f"sign-in: HTTP {response.status_code} {response.text}")
        signed_in = time.perf_counter()
        token = str(response.json()["accessToken"])
        listed = _call(
            http, "query", "conversations:getUserConversations", {"paginationOpts": PAGE}, token
        )
        done = time.perf_counter()
    if not listed["page"]:
        raise BenchError("getUserConversations answered no conversation")
    return (signed_in - started) * 1000, (done - signed_in) * 1000


def http_first_token(http: httpx.Client, account: Account, conversation: str) -> tuple[float, int]:
    """sendMessage, then queries back to back until the advisor's answer has text: (ms, the
    queries it took)."""
    token = account.access
    started = time.perf_counter()
    args = {"conversationId": conversation, "content": "What should we do first?"}
    _call(http, "mutation", "messages:sendMessage", args, token)
    deadline = started + CALL_S
    polls = 0
    answer: str | None = None
    while time.perf_counter() < deadline:
        polls += 1
        if answer is None:
            listing = {"conversationId": conversation, "paginationOpts": PAGE, "order": "desc"}
            page = _call(http, "query", "messages:getConversationMessages", listing, token)
            advisor = next((m for m in page["page"] if m["sender"] == "advisor"), None)
            if advisor is None:
                continue
            if advisor["content"] != "":
                return (time.perf_counter() - started) * 1000, polls
            answer = str(advisor["_id"])
        else:
            text = _call(http, "query", "messages:getStreamingText", {"messageId": answer}, token)
            if text["content"] != "":
                return (time.perf_counter() - started) * 1000, polls
    raise BenchError("no answer text within the limit")


def settle(http: httpx.Client, account: Account, conversation: str) -> None:
    """Wait until no answer in the conversation is streaming, so runs do not overlap."""
    deadline = time.perf_counter() + CALL_S
    listing = {"conversationId": conversation, "paginationOpts": PAGE, "order": "desc"}
    while time.perf_counter() < deadline:
        page = _call(http, "query", "messages:getConversationMessages", listing, account.access)
        advisors = [m for m in page["page"] if m["sender"] == "advisor"]
        if advisors and all(m.get("status", "complete") != "streaming" for m in advisors):
            return
        time.sleep(0.02)  # polling the server's round; the deadline bounds it
    raise BenchError("an answer did not finish within the limit")


# --- the browser ----------------------------------------------------------------------------


def _stored_session(account: Account) -> str:
    """The app's localStorage entry for a signed-in account (web/src/auth/session.ts)."""
    tokens = account.tokens
    session = {
        "accessToken": tokens["accessToken"],
        "refreshToken": tokens["refreshToken"],
        "expiresAt": int(time.time() * 1000) + int(tokens["expiresIn"]) * 1000,
        "userId": tokens["userId"],
        "email": account.email,
    }
    return orjson.dumps(session).decode()


def _signed_in(base: str, account: Account) -> Account:
    """A new sign-in of the account: its own tokens, for one browser context."""
    body = {"email": account.email, "password": PASSWORD}
    response = httpx.post(f"{base}/auth/signin", json=body, timeout=CALL_S)
    if response.status_code != 200:
        raise BenchError(f"sign-in: HTTP {response.status_code} {response.text}")
    return Account(account.email, response.json())


_TOKEN = f"JSON.parse(localStorage.getItem({SESSION_KEY!r})).accessToken"


def _renewed(page: Page, refreshing: set[Request]) -> bool:
    """Whether the page renewed its token within RENEWAL_WAIT_MS; in any case, once no
    renewal is in flight. The Convex client, once the server has accepted the stored token,
    usually asks for a fresh one (forceRefreshToken), and the app spends the refresh token
    for it. A reload before that answer is stored would present the spent refresh token
    again, which ends the sign-in; and a renewal during the Enter timing would
    re-authenticate the connection inside it."""
    renewed = True
    try:
        page.wait_for_function(f"() => {_TOKEN} !== window.__tokenAtLoad", timeout=RENEWAL_WAIT_MS)
    except PlaywrightTimeout:
        renewed = False
    deadline = time.perf_counter() + STEP_MS / 1000
    while refreshing:  # Playwright's events arrive while it waits
        if time.perf_counter() > deadline:
            raise BenchError("a token renewal did not finish")
        page.wait_for_timeout(20)
    return renewed


def _parsed_at(page: Page) -> float:
    """When the document and its (deferred module) scripts had run: DOMContentLoaded's end,
    ms since navigation start. The rest of the wait is the app's own start."""
    entry = "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
    return float(page.evaluate(entry))


def _usable_at(page: Page) -> float:
    page.wait_for_function("() => window.__usableAt !== undefined", timeout=STEP_MS)
    return float(page.evaluate("window.__usableAt"))


def browser_run(
    browser: Browser, base: str, account: Account, conversation: str, samples: Samples
) -> None:
    """One context: a first visit, a reload, then Enter to the first token painted."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(STEP_MS)
    step = "the set-up"
    try:
        # Only into an empty storage: a reload keeps the tokens the app has renewed since
        # (a refresh token is spent by its use; presenting it again ends the sign-in).
        stored = _stored_session(_signed_in(base, account))
        context.add_init_script(
            f"if (location.origin === {base!r}) {{"
            f" if (localStorage.getItem({SESSION_KEY!r}) === null)"
            f" localStorage.setItem({SESSION_KEY!r}, {stored!r});"
            f" window.__tokenAtLoad = {_TOKEN}; }}"
        )
        context.add_init_script(WATCH_USABLE)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        refreshing: set[Request] = set()  # /auth/refresh requests not yet answered
        page.on("request", lambda r: refreshing.add(r) if r.url.endswith(REFRESH) else None)
        page.on("requestfinished", lambda r: refreshing.discard(r))
        page.on("requestfailed", lambda r: refreshing.discard(r))
        step = "the first visit"
        page.goto(f"/chat/{conversation}", wait_until="commit")
        cold = _usable_at(page)
        cold_parsed = _parsed_at(page)
        step = "the first visit's token renewal"
        samples.renewals_missed += not _renewed(page, refreshing)
        step = "the page loaded again"
        page.reload(wait_until="commit")
        warm = _usable_at(page)
        warm_parsed = _parsed_at(page)
        step = "the second load's token renewal"
        samples.renewals_missed += not _renewed(page, refreshing)
        step = "Enter to the first token"
        page.evaluate(WATCH_ANSWER)
        composer = page.locator("#composer-input")
        composer.fill("What should we do first?")
        composer.press("Enter")
        page.wait_for_function("() => window.__answer.frame !== undefined", timeout=STEP_MS)
        answer = page.evaluate("window.__answer")
    except Exception as exc:
        text = page.evaluate("document.body.innerText")[:500]
        shown = f"the page ({page.url}) shows {text!r}; errors {errors}"
        raise BenchError(f"{step}: {exc}; {shown}") from exc
    finally:
        context.close()
    if errors:
        raise BenchError(f"the page reported errors: {errors}")
    samples.browser_cold.append(cold)
    samples.browser_warm.append(warm)
    samples.browser_cold_parsed.append(cold_parsed)
    samples.browser_warm_parsed.append(warm_parsed)
    samples.browser_token_dom.append(answer["dom"] - answer["keydown"])
    samples.browser_token_painted.append(answer["frame"] - answer["keydown"])


# --- the run --------------------------------------------------------------------------------


def measure(runs: int, warmup: int, progress: Console) -> tuple[Samples, dict[str, Any]]:
    if shutil.which(CHROMIUM) is None:
        raise BenchError(f"{CHROMIUM} is not installed (Debian's chromium package)")
    from advisor_chat.api.webapp import WEB_ROOT

    if not (WEB_ROOT / "index.html").is_file():
        raise BenchError("the web app is not built (scripts/build-web)")
    samples = Samples()
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="bench-web-") as tmp,
        RemoteProvider() as provider,
    ):
        directory = Path(tmp)
        port = _free_port()
        command, env = product_serve(directory, port, provider.base_url, "warning")
        base = f"http://127.0.0.1:{port}"
        total = runs + warmup
        provider.reply(ANSWER, token_delay_s=TOKEN_DELAY_S, model=ANSWER_MODEL, times=3 * total)
        with (
            _server(command, env, directory, port),
            httpx.Client(base_url=base, timeout=CALL_S) as http,
            sync_playwright() as driver,
        ):
            web_user = _account(http, "bench-web@example.test")
            http_user = _account(http, "bench-http@example.test")
            advisors = _call(http, "query", "advisors:getActiveAdvisors", {}, web_user.access)
            if not advisors:
                raise BenchError("the server lists no advisor")
            advisor = str(advisors[0]["_id"])
            web_conversations = _conversations(http, web_user, advisor, total)
            http_conversations = _conversations(http, http_user, advisor, total)
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            progress.print(f"{warmup} warm-up run(s), then {runs} measured", style="dim")
            try:
                for n in range(total):
                    into = samples if n >= warmup else Samples()
                    browser_run(browser, base, web_user, web_conversations[n], into)
                    settle(http, web_user, web_conversations[n])
                    signin, listed = http_load(base, http_user)
                    into.http_signin.append(signin)
                    into.http_conversations.append(listed)
                    into.http_load.append(signin + listed)
                    took, polls = http_first_token(http, http_user, http_conversations[n])
                    into.http_token.append(took)
                    into.http_polls.append(polls)
                    settle(http, http_user, http_conversations[n])
            finally:
                browser.close()
            version = browser.version
    run = {
        "load_before": load_before,
        "runs": runs,
        "warmup": warmup,
        "chromium": version,
        "cpus": os.cpu_count(),
        "load_after": os.getloadavg()[0],
        "answer": {"first_token_delay_s": 0.0, "tokens": len(ANSWER), "delay_s": TOKEN_DELAY_S},
    }
    return samples, run


def _show(console: Console, samples: Samples, runs: int) -> dict[str, Any]:
    table = Table(title=f"Web app in Chromium vs the plain HTTP API ({runs} runs, ms)")
    for column in ("measure", "browser p50", "p95", "HTTP p50", "p95", "browser / HTTP p50"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    figures: dict[str, Any] = {}

    def row(name: str, key: str, browser: list[float], http: list[float]) -> None:
        b, h = Spread.of(browser), Spread.of(http)
        ratio = b.p50 / h.p50 if h.p50 else float("nan")
        ratio95 = b.p95 / h.p95 if h.p95 else float("nan")
        figures[key] = {"browser": asdict(b), "http": asdict(h), "ratio_p50": ratio}
        figures[key]["ratio_p95"] = ratio95
        table.add_row(
            name, f"{b.p50:.1f}", f"{b.p95:.1f}", f"{h.p50:.1f}", f"{h.p95:.1f}", f"{ratio:.2f}"
        )

    row(
        "usable chat view, first visit / sign-in + conversations",
        "load_cold",
        samples.browser_cold,
        samples.http_load,
    )
    row(
        "usable chat view, page loaded again / sign-in + conversations",
        "load_warm",
        samples.browser_warm,
        samples.http_load,
    )
    row(
        "usable chat view, first visit / conversations alone",
        "load_cold_vs_query",
        samples.browser_cold,
        samples.http_conversations,
    )
    row(
        "Enter to first token painted / sendMessage to first text polled",
        "first_token",
        samples.browser_token_painted,
        samples.http_token,
    )
    row(
        "Enter to first token in the DOM / same",
        "first_token_dom",
        samples.browser_token_dom,
        samples.http_token,
    )
    console.print(table)
    parsed = Spread.of(samples.browser_cold_parsed), Spread.of(samples.browser_warm_parsed)
    console.print(
        f"Of the browser's wait, the document and its scripts parsed and run "
        f"(DOMContentLoaded): first visit p50 {parsed[0].p50:.1f} ms, "
        f"loaded again p50 {parsed[1].p50:.1f} ms; the rest is the app's start "
        f"(sync connection, authentication, the first query results, rendering)."
    )
    figures["browser_parsed_cold"] = asdict(parsed[0])
    figures["browser_parsed_warm"] = asdict(parsed[1])
    signin, polls = (
        Spread.of(samples.http_signin),
        Spread.of([float(p) for p in samples.http_polls]),
    )
    console.print(
        f"HTTP sign-in alone: p50 {signin.p50:.1f} ms, p95 {signin.p95:.1f} ms; "
        f"queries polled until the first text: p50 {polls.p50:.0f}, max {polls.max:.0f}."
    )
    if samples.renewals_missed:
        console.print(
            f"{samples.renewals_missed} page load(s) of {2 * runs} made no token renewal within "
            f"{RENEWAL_WAIT_MS / 1000:g} s (the Convex client's usual one after connecting)."
        )
    figures["http_signin"] = asdict(signin)
    figures["http_polls"] = asdict(polls)
    return figures


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.web_timing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=15, help="measured runs of each")
    parser.add_argument("--warmup", type=int, default=2, help="runs first, not counted")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs needs at least 1, --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    console = Console(width=120)  # one line a row, also in a log
    started = time.perf_counter()
    samples, run = measure(args.runs, args.warmup, console)
    run["seconds"] = round(time.perf_counter() - started, 1)
    figures = _show(console, samples, args.runs)
    RESULTS.mkdir(exist_ok=True)
    results = {"run": run, "figures": figures, "samples": asdict(samples)}
    (RESULTS / "web_timing.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
