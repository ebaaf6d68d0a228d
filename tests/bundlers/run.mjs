// Bundler tests: each tiny app under tests/bundlers/ is bundled by its
// bundler against the packed package (npm pack of pkg/, unpacked into
// target/bundlers/node_modules/jwt-edge, as an install would), and the bundle
// is run for real: browser bundles in Chromium (playwright-core, Debian's
// chromium), worker bundles in workerd, all on loopback. The configurations
// are the ones docs/bundlers.md shows. Prints a size table (also written to
// target/bundlers/sizes.json) and "N passed, N failed"; exit 1 on failure.
// Needs pkg/ (pkg-scripts/build) and target/js-test/fixtures.json.
// Usage: node tests/bundlers/run.mjs
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { dirname, extname, join, normalize, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const work = join(root, "target/bundlers");
const bin = (name) => join(root, "node_modules/.bin", name);
const fixtures = resolve(process.env.JWT_EDGE_FIXTURES ?? join(root, "target/js-test/fixtures.json"));
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
for (const f of [fixtures, executablePath, join(root, "pkg/package.json")]) {
  if (!existsSync(f)) {
    console.error(`${f} missing (pkg-scripts/build, tests/js/make-fixtures.mjs, Debian's chromium)`);
    process.exit(1);
  }
}
const t0 = Date.now();
const seconds = (since) => ((Date.now() - since) / 1000).toFixed(2);

// --- the apps and the package, as a user has them
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
for (const f of readdirSync(here)) if (f !== "run.mjs") cpSync(join(here, f), join(work, f), { recursive: true });
const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: join(root, "pkg"), encoding: "utf8" }))[0];
const installed = join(work, "node_modules/jwt-edge");
mkdirSync(installed, { recursive: true });
execFileSync("tar", ["-xzf", join(work, packed.filename), "-C", installed, "--strip-components=1"]);

const fx = JSON.parse(readFileSync(fixtures, "utf8"));
const token = (name) => fx.cases.find((c) => c.name === name).token;
const fixture = JSON.stringify({ jwks: fx.jwks, iss: fx.iss, aud: fx.aud, now: fx.now, es256: token("valid ES256"), rs256: token("valid RS256"), tampered: token("tampered ES256") });
const expected = (entry) => ({ entry, es256: "valid-ES256", rs256: "valid-RS256", sync: "valid-ES256", tampered: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });

const results = [];
const check = (name, ok, detail) => {
  results.push({ name, ok });
  console.log(`${ok ? "ok" : "not ok"} - ${name}${ok ? "" : `\n  ${detail}`}`);
};

// --- bundling: [name, app dir, command, args, output dir, extra env]
const env = {
  ...process.env,
  // wrangler: no metrics, logs under target/ (its dry run needs no account).
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_LOG_PATH: join(work, "wrangler-logs"),
  CI: "true",
};
const builds = [
  ["esbuild (browser, iife)", "esbuild-browser", bin("esbuild"), ["main.js", "--bundle", "--format=iife", "--platform=browser", "--outfile=dist/main.js"], "dist"],
  ["esbuild (browser, default settings)", "esbuild-browser-default", bin("esbuild"), ["main.js", "--bundle", "--format=esm", "--platform=browser", "--outfile=dist/main.js"], "dist"],
  ["esbuild (worker)", "esbuild-worker", bin("esbuild"), ["worker.js", "--bundle", "--format=esm", "--platform=browser", "--conditions=worker", "--loader:.wasm=copy", "--outdir=dist-worker"], "dist-worker"],
  ["esbuild (edge-light)", "esbuild-worker", bin("esbuild"), ["worker.js", "--bundle", "--format=esm", "--platform=browser", "--conditions=edge-light", "--loader:.wasm=copy", "--outdir=dist-edge-light"], "dist-edge-light"],
  ["esbuild (node)", "esbuild-node", bin("esbuild"), ["main.js", "--bundle", "--format=esm", "--platform=node", "--packages=external", "--outfile=dist/main.mjs"], "dist"],
  ["Vite", "vite", bin("vite"), ["build", "--logLevel", "warn"], "dist"],
  ["webpack", "webpack", bin("webpack"), ["--config", "webpack.config.mjs", "--stats=errors-warnings"], "dist"],
  ["Rollup", "rollup", bin("rollup"), ["-c", "rollup.config.mjs", "--silent"], "dist"],
  ["wrangler", "wrangler", bin("wrangler"), ["deploy", "--dry-run", "--outdir", "dist"], "dist"],
];
const out = {};
const timings = {};
const sizes = [];
for (const [name, app, cmd, args, dist] of builds) {
  const started = Date.now();
  const cwd = join(work, app);
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });
  const log = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    check(`${name}: bundles`, false, `exit ${r.status} ${r.error ?? ""}\n${log}`);
    continue;
  }
  timings[name] = Number(seconds(started));
  out[name] = join(cwd, dist);
  // No warning: esbuild, Rollup and Vite warn on stderr, webpack in its
  // stats, wrangler with "[WARNING]" (its banner and upload summary are not).
  const warnings = name === "wrangler" ? log.match(/\[WARNING\].*/g) : r.stderr.match(/.*warn.*/gi) ?? r.stdout.match(/WARNING.*/g);
  check(`${name}: bundles without a warning (${timings[name]} s)`, !warnings, log);
  const files = readdirSync(out[name], { recursive: true }).filter((f) => /\.(m?js|wasm)$/.test(f));
  const bytes = (f) => statSync(join(out[name], f)).size;
  const gz = (f) => gzipSync(readFileSync(join(out[name], f)), { level: 9 }).length;
  const js = files.filter((f) => /\.m?js$/.test(f));
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  const sum = (fs, fn) => fs.reduce((a, f) => a + fn(f), 0);
  sizes.push({ bundler: name, jsBytes: sum(js, bytes), jsGzip: sum(js, gz), wasmBytes: sum(wasm, bytes), wasmGzip: sum(wasm, gz), files: files.length });
}

const freePort = () =>
  new Promise((ok) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });

// --- the Node bundle in Node (jwt-edge external: loaded from node_modules)
if (out["esbuild (node)"]) {
  const r = spawnSync(process.execPath, [join(out["esbuild (node)"], "main.mjs")], { env: { ...process.env, FIXTURE: fixture }, encoding: "utf8", timeout: 60_000 });
  let result;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    result = { stdout: r.stdout, stderr: r.stderr };
  }
  check(`esbuild (node): the bundle verifies tokens in Node (entry "node")`, JSON.stringify(result) === JSON.stringify(expected("node")), JSON.stringify(result));
}

// --- browser bundles in Chromium, each app served alone on loopback
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html" };
function serve(dir, html) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://localhost").pathname;
    if (path === "/fixture.json") return res.writeHead(200, { "content-type": "application/json" }).end(fixture);
    if (path === "/" && html) return res.writeHead(200, { "content-type": "text/html" }).end(html);
    const file = normalize(join(dir, path === "/" ? "index.html" : path));
    if (!file.startsWith(dir + "/") || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}
const classicPage = `<!doctype html><meta charset="utf-8"><title>bundle</title><script src="/main.js"></script>`;
const pages = [
  ["esbuild (browser, iife)", classicPage, "inline"],
  ["Vite", undefined, "browser"],
  ["webpack", classicPage, "browser"],
  ["Rollup", classicPage, "inline"],
].filter(([name]) => out[name]);
// Vite's dev server too (its dependency pre-bundling), without configuration.
async function viteDev() {
  const port = await freePort();
  const child = spawn(bin("vite"), ["--host", "127.0.0.1", "--port", String(port), "--strictPort"], { cwd: join(work, "vite"), env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const deadline = Date.now() + 30_000;
  while (!log.includes("ready in") && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return { child, url: `http://127.0.0.1:${port}/`, log: () => log };
}
const browserStarted = Date.now();
const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  for (const [name, html, entry] of pages) {
    const server = await serve(out[name], html);
    const tab = await browser.newPage();
    const problems = [];
    tab.on("pageerror", (e) => problems.push(`page error: ${e}`));
    tab.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    try {
      await tab.goto(`http://127.0.0.1:${server.address().port}/`);
      await tab.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
      const result = await tab.evaluate(() => window.__result);
      const ok = JSON.stringify(result) === JSON.stringify(expected(entry)) && problems.length === 0;
      check(`${name}: the bundle verifies tokens in Chromium (entry "${entry}")`, ok, JSON.stringify({ result, problems }));
    } catch (e) {
      check(`${name}: the bundle verifies tokens in Chromium`, false, `${e.message}; ${problems.join("; ")}`);
    } finally {
      await tab.close();
      server.close();
    }
  }
  // The plain import bundled by esbuild with default settings: the .wasm is
  // not beside the bundle, and the error says what to import instead.
  if (out["esbuild (browser, default settings)"]) {
    const server = await serve(out["esbuild (browser, default settings)"], `<!doctype html><meta charset="utf-8"><title>bundle</title><script type="module" src="/main.js"></script>`);
    const tab = await browser.newPage();
    const errors = [];
    const missing = [];
    tab.on("pageerror", (e) => errors.push(String(e?.message ?? e)));
    tab.on("response", (r) => r.status() === 404 && missing.push(r.url()));
    try {
      await tab.goto(`http://127.0.0.1:${server.address().port}/`);
      const deadline = Date.now() + 30_000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const loaded = await tab.evaluate(() => window.__result);
      const ok = loaded === undefined && missing.some((u) => u.endsWith("/wasm/jwt_edge_bg.wasm"))
        && errors.some((m) => m.includes('import "jwt-edge/inline"') && m.includes("docs/bundlers.md"));
      check(`esbuild (browser, default settings): the missing .wasm fails with an error that names jwt-edge/inline`, ok, JSON.stringify({ loaded, errors, missing }));
    } finally {
      await tab.close();
      server.close();
    }
  }
  const dev = await viteDev();
  const tab = await browser.newPage();
  const problems = [];
  tab.on("pageerror", (e) => problems.push(`page error: ${e}`));
  tab.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  await tab.route("**/fixture.json", (route) => route.fulfill({ body: fixture, contentType: "application/json" }));
  try {
    await tab.goto(dev.url);
    await tab.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
    const result = await tab.evaluate(() => window.__result);
    const ok = JSON.stringify(result) === JSON.stringify(expected("browser")) && problems.length === 0;
    check(`Vite dev server: the app verifies tokens in Chromium (entry "browser")`, ok, JSON.stringify({ result, problems }));
  } catch (e) {
    check("Vite dev server: the app verifies tokens in Chromium", false, `${e.message}; ${problems.join("; ")}\n${dev.log()}`);
  } finally {
    await tab.close();
    dev.child.kill("SIGTERM");
  }
} finally {
  await browser.close();
}
timings["Chromium runs"] = Number(seconds(browserStarted));

// --- worker bundles in workerd: one process, one socket per bundle
const workers = [
  ["esbuild (worker)", "esbuildWorker"],
  ["esbuild (edge-light)", "esbuildEdgeLight"],
  ["wrangler", "wrangler"],
].filter(([name]) => out[name]);
if (workers.length > 0) {
  const workerdStarted = Date.now();
  const conf = join(work, "workerd");
  mkdirSync(conf, { recursive: true });
  const ports = {};
  const defs = [];
  // Held open together, so that no two workers get the same port.
  const held = await Promise.all(workers.map(() => new Promise((ok) => { const s = createNetServer().listen(0, "127.0.0.1", () => ok(s)); })));
  workers.forEach(([name], i) => (ports[name] = held[i].address().port));
  await Promise.all(held.map((s) => new Promise((ok) => s.close(ok))));
  for (const [name, id] of workers) {
    // The bundle's own files, named by their paths in the output directory
    // (the bundle imports the .wasm by that relative name).
    const modules = readdirSync(out[name])
      .filter((f) => /\.(js|wasm)$/.test(f))
      .sort((a, b) => Number(b.endsWith(".js")) - Number(a.endsWith(".js"))) // the main module first
      .map((f) => `(name = "${f}", ${f.endsWith(".wasm") ? "wasm" : "esModule"} = embed "${relative(conf, join(out[name], f))}")`);
    defs.push(`const ${id} :Workerd.Worker = (
  modules = [${modules.join(", ")}],
  bindings = [(name = "FIXTURE", text = ${JSON.stringify(fixture)})],
  compatibilityDate = "2025-09-01",
);`);
  }
  writeFileSync(
    join(conf, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [${workers.map(([, id]) => `(name = "${id}", worker = .${id})`).join(", ")}],
  sockets = [${workers.map(([name, id]) => `(name = "${id}", address = "127.0.0.1:${ports[name]}", http = (), service = "${id}")`).join(", ")}],
);
${defs.join("\n")}
`,
  );
  const child = spawn(bin("workerd"), ["serve", join(conf, "config.capnp")], { stdio: ["ignore", "inherit", "inherit"] });
  let exited = null;
  child.on("exit", (code) => (exited = code));
  try {
    for (const [name] of workers) {
      const deadline = Date.now() + 30_000;
      let body;
      let status;
      for (;;) {
        if (exited !== null) throw new Error(`workerd exited with ${exited}`);
        try {
          const res = await fetch(`http://127.0.0.1:${ports[name]}/`);
          status = res.status;
          body = await res.json();
          break;
        } catch (e) {
          if (Date.now() > deadline) {
            body = { error: `no answer within 30 s: ${e}` };
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const ok = status === 200 && JSON.stringify(body) === JSON.stringify(expected("workerd"));
      check(`${name}: the bundle verifies tokens in workerd (entry "workerd")`, ok, JSON.stringify({ status, body }));
    }
  } catch (e) {
    check("worker bundles in workerd", false, String(e));
  } finally {
    child.kill("SIGTERM");
  }
  timings["workerd runs"] = Number(seconds(workerdStarted));
}

// --- report
const kib = (n) => (n / 1024).toFixed(1);
console.log("\n| bundler | JS KiB (gzip) | wasm KiB (gzip) | files | bundle s |\n|---|---:|---:|---:|---:|");
for (const s of sizes) {
  console.log(`| ${s.bundler} | ${kib(s.jsBytes)} (${kib(s.jsGzip)}) | ${kib(s.wasmBytes)} (${kib(s.wasmGzip)}) | ${s.files} | ${timings[s.bundler]} |`);
}
console.log(`\nChromium ${timings["Chromium runs"]} s, workerd ${timings["workerd runs"] ?? "-"} s; total ${seconds(t0)} s`);
writeFileSync(join(work, "sizes.json"), JSON.stringify({ sizes, timings, totalSeconds: Number(seconds(t0)) }, null, 2) + "\n");
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
