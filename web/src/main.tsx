import { ConvexReactClient } from "convex/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { applyStoredTheme } from "./lib/theme";
import "./styles.css";

applyStoredTheme(); // before the first paint: no flash of the other theme

// The server speaks Convex's sync protocol at this origin's /api/sync.
// The stored token is reused until shortly before it expires, instead of renewed at once:
// a renewal spends the refresh token, and a reload while one is in flight would sign out.
const client = new ConvexReactClient(window.location.origin, {
  unsavedChangesWarning: false,
  initialAuthTokenReuse: true,
});

const root = document.getElementById("root");
if (root === null) throw new Error("no #root element");
createRoot(root).render(
  <StrictMode>
    <App client={client} />
  </StrictMode>,
);
