// Chromium runner: serves the repository on loopback, opens a page whose
// import map points "jwt-edge" and "jwt-edge/full" at the package's "browser"
// export condition (and "jwt-edge/inline", "jwt-edge/full/inline" at theirs:
// the .wasm embedded), and drives Debian's Chromium with playwright-core.
// Usage: node tests/js/run-browser.mjs
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const fixtures = resolve(process.env.JWT_EDGE_FIXTURES ?? join(root, "target/js-test/fixtures.json"));
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(executablePath)) {
  console.error(`Chromium not found at ${executablePath} (pkg-scripts/test installs Debian's chromium)`);
  process.exit(1);
}
const pkg = JSON.parse(readFileSync(join(root, "pkg/package.json"), "utf8"));
const importMap = {
  imports: {
    "jwt-edge": `/pkg/${pkg.exports["."].browser.replace("./", "")}`,
    "jwt-edge/full": `/pkg/${pkg.exports["./full"].browser.replace("./", "")}`,
    "jwt-edge/inline": `/pkg/${pkg.exports["./inline"].browser.replace("./", "")}`,
    "jwt-edge/full/inline": `/pkg/${pkg.exports["./full/inline"].browser.replace("./", "")}`,
  },
};
const page = `<!doctype html><meta charset="utf-8"><title>jwt-edge suite</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module">
  import * as defaultBuild from "jwt-edge";
  import * as fullBuild from "jwt-edge/full";
  import * as defaultInline from "jwt-edge/inline";
  import * as fullInline from "jwt-edge/full/inline";
  import { runSuite } from "/tests/js/suite.mjs";
  const fx = await (await fetch("/fixtures.json")).json();
  const results = [];
  for (const [variant, api] of [["default", defaultBuild], ["full", fullBuild]]) {
    results.push(...await runSuite(api, variant, fx, "browser"));
  }
  for (const [variant, api] of [["default", defaultInline], ["full", fullInline]]) {
    for (const r of await runSuite(api, variant, fx, "inline")) results.push({ ...r, name: "(inline) " + r.name });
  }
  // One JwtEdgeError class for every entry and build.
  const classes = new Set([defaultBuild, fullBuild, defaultInline, fullInline].map((m) => m.JwtEdgeError));
  results.push({ name: "one JwtEdgeError class for both builds and the inline entries", ok: classes.size === 1, error: classes.size === 1 ? undefined : String(classes.size) });
  // The README's browser snippet.
  const { check } = await import("/examples/npm/browser.js");
  const token = (name) => fx.cases.find((c) => c.name === name).token;
  const good = await check(token("valid EdDSA"), JSON.stringify(fx.jwks), fx.now);
  const bad = await check(token("tampered EdDSA"), JSON.stringify(fx.jwks), fx.now);
  const ok = good.valid === true && good.claims.iss === fx.iss && bad.valid === false && bad.code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED";
  results.push({ name: "[example] browser snippet", ok, error: ok ? undefined : JSON.stringify({ good, bad }) });
  window.__results = results;
</script>`;

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html" };
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/") {
    res.writeHead(200, { "content-type": "text/html" }).end(page);
    return;
  }
  if (url.pathname === "/fixtures.json") {
    res.writeHead(200, { "content-type": "application/json" });
    createReadStream(fixtures).pipe(res);
    return;
  }
  const file = normalize(join(root, url.pathname));
  const allowed = [join(root, "pkg"), join(root, "tests/js"), join(root, "examples/npm")].some((d) => file.startsWith(d + "/"));
  if (!allowed || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
  createReadStream(file).pipe(res);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const { port } = server.address();

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let results;
try {
  const tab = await browser.newPage();
  const errors = [];
  tab.on("pageerror", (e) => errors.push(String(e)));
  await tab.goto(`http://127.0.0.1:${port}/`);
  try {
    await tab.waitForFunction(() => window.__results !== undefined, null, { timeout: 120_000 });
  } catch (e) {
    throw new Error(`the suite did not finish in Chromium: ${errors.join("; ") || e}`);
  }
  results = await tab.evaluate(() => window.__results);
} finally {
  await browser.close();
  server.close();
}
let failed = 0;
for (const r of results) {
  if (!r.ok) {
    failed++;
    console.log(`not ok - chromium ${r.name}\n${r.error}`);
  }
}
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
