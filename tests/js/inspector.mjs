// Browser test of the token inspector (www/, built by pkg-scripts/build-www):
// Debian's Chromium driven by playwright-core, the page served from loopback,
// tokens and JWKS from the jwt-edge CLI (temp store, --insecure-dev-keys).
// Screenshots go to target/screenshots. Needs target/debug/jwt-edge and pkg/.
// Usage: node tests/js/inspector.mjs   -> "N passed, N failed", exit 1 on failure
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { issuerCli } from "./issuer-util.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.JWT_EDGE_BIN ?? join(root, "target/debug/jwt-edge");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
for (const f of [bin, executablePath]) {
  if (!existsSync(f)) {
    console.error(`${f} missing`);
    process.exit(1);
  }
}
const t0 = Date.now();
const work = join(root, "target/inspector-test");
const shots = join(root, "target/screenshots");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(shots, { recursive: true });
const site = join(work, "www");
execFileSync(join(root, "pkg-scripts/build-www"), [site], { stdio: ["ignore", "ignore", "inherit"] });

// --- tokens and JWKS from the CLI
const ISS = "https://issuer.test";
const AUD = "https://api.test";
const { cli } = issuerCli(bin, join(work, "issuer.db"));
const now = Math.floor(Date.now() / 1000);
cli("init", "--issuer", ISS, "--now", String(now - 20_000));
const key = cli("provision", "create", "--name", "inspector-test", "--scope", "read:reports", "--aud", AUD, "--sub", "inspector-client", "--now", String(now - 10_000));
const token = cli("issue", "--provisioning-key", key);
const expired = cli("issue", "--provisioning-key", key, "--now", String(now - 7200));
const jwks = cli("jwks");
const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
const [h, , s] = token.split(".");
const tampered = [h, Buffer.from(JSON.stringify({ ...claims, scope: "read:reports admin" })).toString("base64url"), s].join(".");

// --- static server: the built site, plus the CLI's JWKS at /jwks.json
const TYPES = { ".js": "text/javascript", ".html": "text/html", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json" };
const requests = [];
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  requests.push(url.pathname);
  if (url.pathname === "/jwks.json") return res.writeHead(200, { "content-type": "application/json" }).end(jwks);
  const file = normalize(join(site, url.pathname === "/" ? "index.html" : url.pathname));
  if (!file.startsWith(site + "/") || !existsSync(file)) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
  createReadStream(file).pipe(res);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}/`;

const results = [];
const check = (name, ok, detail) => {
  results.push({ name, ok });
  console.log(`${ok ? "ok" : "not ok"} - ${name}${ok ? "" : `\n  ${detail}`}`);
};

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const errors = [];
  const offsite = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("request", (r) => !r.url().startsWith(base) && offsite.push(r.url()));
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  check("page loads and the wasm module initialises", (await page.textContent("#load-status")).startsWith("Ready"), await page.textContent("#load-status"));

  // paste a token -> header, claims, times, warnings, segments
  await page.fill("#token", token);
  const claimsText = await page.textContent("#claims");
  check("claims pretty-printed (iss, sub, scope)", claimsText.includes(`"iss": "${ISS}"`) && claimsText.includes('"sub": "inspector-client"') && claimsText.includes('"scope": "read:reports"'), claimsText);
  check("header pretty-printed (alg, kid, typ)", /"alg": "ES256"[\s\S]*"typ": "at\+jwt"/.test(await page.textContent("#header")), await page.textContent("#header"));
  const expText = await page.textContent("#times tr[data-claim=exp]");
  check("exp shown as local time and relative ('expires in 15 minutes')", /expires in 1[45] minutes/.test(expText), expText);
  check("colour-coded segments: header, payload, signature", (await page.locator("#segments .seg-h").count()) === 1 && (await page.textContent("#segments .seg-s")) === s, await page.innerHTML("#segments"));

  // verify against the CLI's JWKS with issuer and audience
  await page.fill("#jwks", jwks);
  await page.fill("#issuer", ISS);
  await page.fill("#audience", AUD);
  await page.click("#verify");
  await page.waitForSelector("#result.ok, #result.bad");
  check("verification against the CLI's JWKS -> valid", (await page.getAttribute("#result", "class")).includes("ok") && (await page.textContent("#result")).includes("Valid"), await page.textContent("#result"));
  await page.screenshot({ path: join(shots, "inspector-valid.png"), fullPage: true });

  // tampered -> signature error with explanation
  await page.fill("#token", tampered);
  await page.click("#verify");
  await page.waitForSelector("#result.bad");
  const tamperedText = await page.textContent("#result");
  check("tampered token -> ERR_JWS_SIGNATURE_VERIFICATION_FAILED with an explanation", (await page.textContent("#result-code")) === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" && tamperedText.includes("changed after it was signed"), tamperedText);
  await page.screenshot({ path: join(shots, "inspector-tampered.png"), fullPage: true });

  // wrong audience -> claim error in plain language
  await page.fill("#token", token);
  await page.fill("#audience", "https://other.test");
  await page.click("#verify");
  await page.waitForSelector("#result.bad");
  const audText = await page.textContent("#result");
  check("wrong audience -> ERR_JWT_CLAIM_VALIDATION_FAILED explained", audText.includes("ERR_JWT_CLAIM_VALIDATION_FAILED") && audText.includes("audience"), audText);

  // JWKS by URL, fetched only on request
  const before = requests.filter((p) => p === "/jwks.json").length;
  await page.fill("#audience", AUD);
  await page.fill("#jwks", "");
  await page.fill("#jwks-url", `${base}jwks.json`);
  check("no JWKS request before Fetch is pressed", before === 0 && requests.filter((p) => p === "/jwks.json").length === 0, String(before));
  await page.click("#fetch-jwks");
  await page.waitForSelector("#result.ok, #result.bad");
  check("Fetch loads the JWKS URL and verifies -> valid", (await page.textContent("#result")).includes("Valid") && requests.filter((p) => p === "/jwks.json").length === 1, await page.textContent("#result"));

  // expired token: inspect warning and relative time
  await page.fill("#token", expired);
  const warn = await page.textContent("#warnings");
  const expRow = await page.textContent("#times tr[data-claim=exp]");
  check("expired token: EXPIRED warning and 'expired … ago'", warn.includes("EXPIRED") && /expired .*ago/.test(expRow), `${warn} | ${expRow}`);
  await page.click("#verify");
  await page.waitForSelector("#result.bad");
  check("expired token -> ERR_JWT_EXPIRED", (await page.textContent("#result-code")) === "ERR_JWT_EXPIRED", await page.textContent("#result"));

  // not a token
  await page.fill("#token", "hello.world");
  check("malformed input -> decode error shown", !(await page.isHidden("#decode-error")) && (await page.textContent("#decode-error")).startsWith("ERR_"), await page.textContent("#decode-error"));

  // accessibility basics: every field labelled; keyboard reaches the controls in order
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, textarea")].filter((e) => e.labels.length === 0).map((e) => e.id));
  check("every input and textarea has a label", unlabelled.length === 0, unlabelled.join());
  await page.focus("#token");
  const order = [];
  for (let i = 0; i < 9; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement.id));
  }
  check("Tab order reaches jwks, url, Fetch, issuer, audience, Verify", ["jwks", "jwks-url", "fetch-jwks", "issuer", "audience", "verify"].every((id) => order.includes(id)), order.join(" "));
  await page.fill("#token", token);
  await page.focus("#audience");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#result.ok, #result.bad");
  check("Enter in a field submits the verification", (await page.textContent("#result")).includes("Valid"), await page.textContent("#result"));

  // phone width
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check("375 px wide: no horizontal scrolling", overflow <= 0, `overflow ${overflow}px`);
  await page.screenshot({ path: join(shots, "inspector-phone.png"), fullPage: true });

  check("no request left the page's origin", offsite.length === 0, offsite.join(" "));
  check("no page errors", errors.length === 0, errors.join("\n"));
} catch (e) {
  check("no exception", false, e.stack);
} finally {
  await browser.close();
  server.close();
}
const failed = results.filter((r) => !r.ok).length;
console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in target/screenshots)`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
