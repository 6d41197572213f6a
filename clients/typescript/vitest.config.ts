import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

// The tests need a running framestate: tests/contract/test_typescript_client.py starts one and
// runs them with FRAMESTATE_URL (and tokens) set. DOM tests run in happy-dom at the service's own
// origin, as a page served from it would.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@framestate\/client$/, replacement: source("index.ts") },
      { find: /^@framestate\/client\/react$/, replacement: source("react.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.{ts,tsx}"],
    environmentOptions: { happyDOM: { url: process.env.FRAMESTATE_URL ?? "http://127.0.0.1/" } },
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
