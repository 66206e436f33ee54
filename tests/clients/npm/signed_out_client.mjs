// Browses the marketplace signed out with the official Convex npm client, over HTTP
// (ConvexHttpClient) and over WebSocket (ConvexClient, a subscription), and prints one
// JSON object of what it saw. Run by tests/api/test_signed_out_browsing.py, which asserts.
// Env: ADVISOR_CHAT_URL, PRIVATE_ADVISOR (a signed-in user's own advisor's id).
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import WebSocket from "ws";
import { until } from "./support.mjs";

const url = process.env.ADVISOR_CHAT_URL;
const privateAdvisor = process.env.PRIVATE_ADVISOR;
const seen = { subscribed: [] };

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, data: error.data ?? null, message: String(error.message) };
  }
}

const http = new ConvexHttpClient(url);
seen.all = await http.query("advisors:getAllAdvisors", {});
seen.teams = await http.query("teams:getTeamTemplates", {});
seen.team = await outcome(http.query("teams:getTeamTemplate", { teamId: seen.teams[0].id }));
seen.stats = await http.query("marketplace:getMarketplaceStats", {});
seen.byId = await outcome(http.query("advisors:getAdvisorById", { advisorId: seen.all[0]._id }));
seen.private = await outcome(http.query("advisors:getAdvisorById", { advisorId: privateAdvisor }));
seen.board = await outcome(http.query("marketplace:getUserSelectedAdvisors", {}));

const ws = new ConvexClient(url, { webSocketConstructor: WebSocket, logger: false });
ws.onUpdate("advisors:getActiveAdvisors", {}, (advisors) =>
  seen.subscribed.push(advisors.map((a) => a._id)),
);
ws.onUpdate(
  "marketplace:getUserSelectedAdvisors",
  {},
  () => (seen.wsBoard = { ok: true }),
  (error) => (seen.wsBoard = { ok: false, data: error.data ?? null }),
);
await until(() => seen.subscribed.length > 0 && seen.wsBoard !== undefined, "both answers");
await ws.close();
console.log(JSON.stringify(seen));
