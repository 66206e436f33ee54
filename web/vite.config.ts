// The build lands inside the Python package, so the server serves it and a wheel carries
// it (no Node needed to run a wheel). Asset names carry a content hash: cached for a year.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/advisor_chat/webapp", // relative to web/
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
  server: {
    // `npm run dev` beside `advisor-chat serve`: the API, auth and sync go to the server.
    proxy: {
      "/api": { target: "http://127.0.0.1:8000", ws: true },
      "/auth": "http://127.0.0.1:8000",
    },
  },
});
