// End-to-end test of examples/edge-worker in real workerd (npm), on loopback,
// against a real `jwt-edge serve` (temp store, --insecure-dev-keys) and a tiny
// echo origin. Needs target/debug/jwt-edge (cargo build --features cli,server --bin jwt-edge)
// and the npm package in pkg/ (./pkg-scripts/build).
// Usage: node tests/js/edge-worker.mjs   -> "N passed, N failed", exit 1 on failure
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { workerdConfig } from "../../examples/edge-worker/config.mjs";
import { clientCredentialsToken, issuerCli, startListening } from "./issuer-util.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.JWT_EDGE_BIN ?? join(root, "target/debug/jwt-edge");
if (!existsSync(bin)) {
  console.error(`${bin} missing: cargo build --features cli,server --bin jwt-edge`);
  process.exit(1);
}
const work = join(root, "target/edge-worker-test");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const ISS = "https://issuer.test";
const AUD = "https://api.test";
const { cli, env } = issuerCli(bin, join(work, "issuer.db"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const now = Math.floor(Date.now() / 1000);

const results = [];
let callCount = 0; // requests that reached a gateway
const check = (name, ok, detail) => {
  results.push({ name, ok });
  console.log(`${ok ? "ok" : "not ok"} - ${name}${ok ? "" : `\n  ${detail}`}`);
};

// --- issuer: store (dated in the past so that an expired token can be issued), two clients
cli("init", "--issuer", ISS, "--now", String(now - 20_000));
const keyA = cli("provision", "create", "--name", "reports", "--scope", "read:reports write:reports", "--aud", AUD, "--aud", "https://other.test", "--now", String(now - 10_000));
const keyB = cli("provision", "create", "--name", "svc-b", "--scope", "read:reports", "--aud", AUD, "--sub", "svc-b", "--now", String(now - 10_000));

const keyC = cli("provision", "create", "--name", "unicode", "--scope", "read:reports", "--aud", AUD, "--sub", "jösé 100%", "--now", String(now - 10_000));
const children = [];
const startIssuer = () => startListening(children, bin, ["serve", "--addr", "127.0.0.1:0", "--refresh-interval", "1s", "--insecure-dev-keys"], { env });
const issuer = await startIssuer();
const issuerUrl = `http://${issuer.addr}`;

const token = (key, form = {}) => clientCredentialsToken(issuerUrl, key, form);

// --- origin: echoes what it received
const origin = createHttpServer((req, res) => {
  let length = 0;
  req.on("data", (c) => (length += c.length));
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers, length })));
});
await new Promise((ok) => origin.listen(0, "127.0.0.1", ok));

// --- workerd: two gateways, same worker. "gw" holds the JWKS for its max-age
// (an hour) so only a kid miss can bring in a new key; "gwShort" refreshes
// everything every 1-2 s, for the issuer-down (stale-if-error) case.
// Held open together, so that no two are the same port.
const freePorts = async (n) => {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((ok) => { const s = createServer().listen(0, "127.0.0.1", () => ok(s)); })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
};
const [port, shortPort, strictPort, statusPort, metricsPort, brokenPort] = await freePorts(6);
const METRICS_PATH = "/__jwt-edge/metrics";
// Analytics Engine: workerd has none and miniflare's local simulator for
// analytics_engine_datasets discards the points, so every gateway's DECISIONS
// binding is examples/edge-worker/analytics-engine-log.js, installed by config.mjs
// (`datasets`) as a workerd *wrapped binding* (the mechanism miniflare uses for
// that simulator): the worker calls its synchronous writeDataPoint as on
// Cloudflare, the stand-in refuses points over Analytics Engine's limits and prints
// each accepted one as {"event":"analytics_engine.write","dataset":...}, read back
// here from workerd's output. gwBroken's binding is swapped for one that throws.
const common = {
  ISSUER: ISS,
  AUDIENCE: AUD,
  JWKS_URL: `${issuerUrl}/.well-known/jwks.json`,
  REVOCATIONS_URL: `${issuerUrl}/revocations`,
  ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`,
  REALM: "reports-api",
  ROUTES: [{ prefix: "/admin", scopes: ["write:reports"] }],
  REVOCATIONS_OPTIONS: { minTtl: 1, maxTtl: 1 },
};
let capnp = workerdConfig({
    outDir: work,
    gateways: [
      { name: "gw", address: `127.0.0.1:${port}`, bindings: { ...common, JWKS_OPTIONS: { cooldown: 1 } } },
      { name: "gwShort", address: `127.0.0.1:${shortPort}`, bindings: { ...common, JWKS_OPTIONS: { minTtl: 1, maxTtl: 2 } } },
      // stale data allowed for 1 s only: fails closed soon after the issuer stops
      {
        name: "gwStrict",
        address: `127.0.0.1:${strictPort}`,
        bindings: { ...common, JWKS_OPTIONS: { minTtl: 1, maxTtl: 1, maxStale: 1 }, REVOCATIONS_OPTIONS: { minTtl: 1, maxTtl: 1, maxStale: 1 } },
      },
      // Token Status Lists only (no revocation document): the lists are
      // fetched from the issuer's origin, reached on loopback here.
      {
        name: "gwStatus",
        address: `127.0.0.1:${statusPort}`,
        bindings: { ...common, REVOCATIONS_URL: undefined, REVOCATIONS_OPTIONS: undefined, STATUS_LISTS: "on", STATUS_LISTS_BASE: issuerUrl, STATUS_LISTS_OPTIONS: { minTtl: 1, maxTtl: 1 } },
      },
      // decision metrics: a scripted mix of requests, counters served on METRICS_PATH
      { name: "gwMetrics", address: `127.0.0.1:${metricsPort}`, bindings: { ...common, METRICS_PATH } },
      // a DECISIONS binding whose writeDataPoint throws: requests must not notice
      { name: "gwBroken", address: `127.0.0.1:${brokenPort}`, bindings: { ...common, METRICS_PATH } },
    ].map((g) => ({ ...g, datasets: { DECISIONS: `decisions_${g.name}` } })),
  });
{
  // gwBroken: its wrapped binding points at a module that throws (test-only fault injection)
  const standIn = '(moduleName = "jwt-edge-example:analytics-engine-log", innerBindings = [(name = "dataset", text = "decisions_gwBroken")])';
  const modules = "extensions = [(modules = [";
  if (!capnp.includes(standIn) || !capnp.includes(modules)) throw new Error("config.mjs no longer writes the expected dataset binding");
  const failing = 'export default () => ({ writeDataPoint() { throw new Error("dataset down"); } });';
  capnp = capnp
    .replace(standIn, '(moduleName = "jwt-edge-test:failing-dataset", innerBindings = [])')
    .replace(modules, `${modules}(name = "jwt-edge-test:failing-dataset", internal = true, esModule = ${JSON.stringify(failing)}), `);
}
writeFileSync(join(work, "config.capnp"), capnp);
const workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", "--verbose", join(work, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
children.push(workerd);
const logs = [];
const points = []; // Analytics Engine data points, as the stand-in printed them
const metricsErrors = [];
let workerdOut = "";
for (const s of [workerd.stdout, workerd.stderr]) {
  createInterface({ input: s }).on("line", (line) => {
    workerdOut += line + "\n";
    const m = line.indexOf('{"time"');
    if (m >= 0) {
      try {
        logs.push(JSON.parse(line.slice(m)));
      } catch {}
    }
    for (const [prefix, into] of [
      ['{"event":"analytics_engine.write"', points],
      ['{"event":"jwt.metrics_error"', metricsErrors],
    ]) {
      const i = line.indexOf(prefix);
      if (i >= 0) into.push(JSON.parse(line.slice(i)));
    }
  });
}

async function call(tok, { path = "/reports", headers = {}, gateway = port } = {}) {
  callCount++;
  const h = { ...headers };
  if (tok !== undefined) h.authorization = `Bearer ${tok}`;
  const res = await fetch(`http://127.0.0.1:${gateway}${path}`, { headers: h });
  return { status: res.status, www: res.headers.get("www-authenticate"), retryAfter: res.headers.get("retry-after"), body: await res.json() };
}
// Polls until `pred` holds (refresh intervals, background revalidation).
async function until(fn, pred, ms = 8000) {
  const end = Date.now() + ms;
  let r;
  while (Date.now() < end) {
    r = await fn();
    if (pred(r)) return r;
    await sleep(250);
  }
  return r;
}

// Prometheus text exposition format (0.0.4): # HELP / # TYPE lines and samples
// `name{label="value",...} number`, label values with \\, \" and \n escapes.
function parseProm(text) {
  const help = new Map();
  const type = new Map();
  const samples = [];
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m;
    if ((m = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line))) {
      if (help.has(m[1])) throw new Error(`second HELP for ${m[1]}`);
      help.set(m[1], m[2]);
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      if (type.has(m[1])) throw new Error(`second TYPE for ${m[1]}`);
      type.set(m[1], m[2]);
    } else if (line.startsWith("#")) {
      throw new Error(`unexpected comment: ${line}`);
    } else if ((m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? ([^ ]+)$`).exec(line))) {
      if (!type.has(m[1]) || !help.has(m[1])) throw new Error(`sample before its HELP and TYPE: ${line}`);
      const labels = {};
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
      for (let pos = 0, body = m[2] ?? ""; pos < body.length; pos = re.lastIndex) {
        re.lastIndex = pos;
        const l = re.exec(body);
        if (!l) throw new Error(`bad labels: ${line}`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      }
      const value = Number(m[3]);
      if (!Number.isFinite(value)) throw new Error(`bad value: ${line}`);
      samples.push({ name: m[1], labels, value });
    } else throw new Error(`not a metrics line: ${line}`);
  }
  return { help, type, samples };
}
async function scrape(gateway) {
  const res = await fetch(`http://127.0.0.1:${gateway}${METRICS_PATH}`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type"), text, ...parseProm(text) };
}
// outcome|code -> count, from the decision counter's samples
const countersOf = (m) =>
  Object.fromEntries(m.samples.filter((x) => x.name === "jwt_edge_edge_decisions_total").map((x) => [`${x.labels.outcome}|${x.labels.code}`, x.value]));
const sameCounts = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
const tally = (keys) => keys.reduce((o, k) => ((o[k] = (o[k] ?? 0) + 1), o), {});

try {
  {
    // one request per gateway once it listens (a decision each: ERR_NO_TOKEN)
    const end = Date.now() + 20_000;
    for (const p of [port, shortPort, strictPort, statusPort, metricsPort, brokenPort]) {
      for (;;) {
        try {
          await fetch(`http://127.0.0.1:${p}/`);
          callCount++;
          break;
        } catch {
          if (Date.now() > end || workerd.exitCode !== null) throw new Error(`workerd did not start:\n${workerdOut}`);
          await sleep(100);
        }
      }
    }
  }
  const t = (r) => JSON.stringify(r).slice(0, 400);

  // valid: forwarded with the verified claims; client-sent claim headers dropped
  const good = await token(keyA, { scope: "read:reports write:reports", audience: AUD });
  const claims = JSON.parse(Buffer.from(good.split(".")[1], "base64url"));
  let r = await call(good, { path: "/reports?x=1", headers: { "x-jwt-sub": "admin", "x-jwt-scope": "everything", "x-jwt-extra": "1" } });
  check(
    "valid token -> 200 at the origin with x-jwt-sub/scope/client-id from the token",
    r.status === 200 && r.body.path === "/reports?x=1" && r.body.headers["x-jwt-sub"] === claims.sub && r.body.headers["x-jwt-scope"] === "read:reports write:reports" && r.body.headers["x-jwt-client-id"] === claims.client_id,
    t(r),
  );
  check("client-sent x-jwt-* headers and Authorization are not forwarded", r.status === 200 && r.body.headers["x-jwt-extra"] === undefined && r.body.headers.authorization === undefined, t(r));
  r = await call(await token(keyC, { audience: AUD }));
  check("a non-ASCII sub is forwarded percent-encoded", r.status === 200 && r.body.headers["x-jwt-sub"] === "j%C3%B6s%C3%A9 100%25", t(r));
  r = await call(good, { path: "//evil.example/x?y=1" });
  check("a path starting with // stays on the origin", r.status === 200 && r.body.path === "//evil.example/x?y=1", t(r));
  r = await call(good, { path: "/admin/users" });
  check("valid token with the route's scope -> 200", r.status === 200, t(r));

  // malformed / missing credentials
  r = await call(undefined);
  check("no Authorization -> 401, WWW-Authenticate without error code", r.status === 401 && r.www === 'Bearer realm="reports-api"' && r.body.error === "ERR_NO_TOKEN", t(r));
  r = await call(undefined, { headers: { authorization: "Basic Zm9vOmJhcg==" } });
  check("non-Bearer Authorization -> 400 invalid_request", r.status === 400 && /error="invalid_request"/.test(r.www), t(r));
  r = await call("a b");
  check("Bearer with a space in the token -> 400 invalid_request", r.status === 400 && /error="invalid_request"/.test(r.www), t(r));

  // expired: issued with the CLI two hours ago (15 min lifetime)
  const expired = cli("issue", "--provisioning-key", keyA, "--aud", AUD, "--now", String(now - 7200));
  r = await call(expired);
  check(
    "expired token -> 401 invalid_token ERR_JWT_EXPIRED",
    r.status === 401 && r.body.error === "ERR_JWT_EXPIRED" && /^Bearer realm="reports-api", error="invalid_token", error_description="[^"]+"$/.test(r.www),
    t(r),
  );

  // tampered: claims changed, signature kept
  const [h, , s] = good.split(".");
  const tampered = [h, Buffer.from(JSON.stringify({ ...claims, scope: "read:reports write:reports admin" })).toString("base64url"), s].join(".");
  r = await call(tampered);
  check("tampered token -> 401 ERR_JWS_SIGNATURE_VERIFICATION_FAILED", r.status === 401 && r.body.error === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" && /invalid_token/.test(r.www), t(r));

  // wrong audience
  const other = await token(keyA, { audience: "https://other.test" });
  r = await call(other);
  check("wrong audience -> 401 ERR_JWT_CLAIM_VALIDATION_FAILED (aud)", r.status === 401 && r.body.error === "ERR_JWT_CLAIM_VALIDATION_FAILED" && r.body.claim === "aud", t(r));

  // insufficient scope
  const readOnly = await token(keyA, { scope: "read:reports", audience: AUD });
  r = await call(readOnly, { path: "/admin/users" });
  check(
    "missing route scope -> 403 insufficient_scope with scope=",
    r.status === 403 && /error="insufficient_scope"/.test(r.www) && /scope="write:reports"/.test(r.www) && r.body.claim === "scope",
    t(r),
  );
  r = await call(readOnly);
  check("the same token on a route without a scope requirement -> 200", r.status === 200, t(r));

  // revoked by jti (CLI on the same store; the server re-reads it every second)
  const victim = await token(keyA, { scope: "read:reports", audience: AUD });
  r = await call(victim);
  check("token to be revoked -> 200 before", r.status === 200, t(r));
  r = await call(victim, { gateway: statusPort });
  check("status-list gateway: the token -> 200 before (its list fetched from the issuer)", r.status === 200, t(r));
  cli("revoke", "token", "--token", victim);
  let t1 = Date.now();
  r = await until(() => call(victim), (x) => x.status === 401);
  check(`revoked jti -> 401 ERR_JWT_REVOKED after the list refresh (${Date.now() - t1} ms)`, r.status === 401 && r.body.error === "ERR_JWT_REVOKED", t(r));
  t1 = Date.now();
  r = await until(() => call(victim, { gateway: statusPort }), (x) => x.status === 401);
  check(
    `status-list gateway: revoked -> 401 ERR_JWT_REVOKED (status_list) after the next status list fetch (${Date.now() - t1} ms)`,
    r.status === 401 && r.body.error === "ERR_JWT_REVOKED" && r.body.revocationReason === "status_list",
    t(r),
  );
  r = await call(good, { gateway: statusPort });
  check("status-list gateway: other tokens of the same list still pass", r.status === 200, t(r));

  // revoked by subject
  const b = await token(keyB, { audience: AUD });
  r = await call(b);
  check("client svc-b -> 200 before", r.status === 200 && r.body.headers["x-jwt-sub"] === "svc-b", t(r));
  await sleep(1100); // `--before` is inclusive and in seconds
  cli("revoke", "subject", "svc-b");
  t1 = Date.now();
  r = await until(() => call(b), (x) => x.status === 401);
  check(`revoked subject -> 401 ERR_JWT_REVOKED after the list refresh (${Date.now() - t1} ms)`, r.status === 401 && r.body.error === "ERR_JWT_REVOKED", t(r));
  r = await call(good);
  check("other tokens are unaffected by the revocations", r.status === 200, t(r));

  // --- decision metrics on gwMetrics: a scripted mix, then its METRICS_PATH
  // counters and its DECISIONS data points must match it exactly.
  {
    const hdr = (tok) => JSON.parse(Buffer.from(tok.split(".")[0], "base64url"));
    const alg = hdr(good).alg;
    // header alg the validator does not know: denied; the label is "other", not the junk
    const badAlg = [Buffer.from(JSON.stringify({ ...hdr(good), alg: `XX${"y".repeat(300)}` })).toString("base64url"), good.split(".")[1], s].join(".");
    const deny = (code, status, more = {}) => ({ outcome: "deny", code, status, route: "", alg: "", client_id: "", ...more });
    const allow = (more = {}) => ({ outcome: "allow", code: "OK", status: 200, route: "", alg, client_id: claims.client_id, ...more });
    const script = [
      // [what, token, call options, expected decision]
      ["valid", good, {}, allow()],
      ["valid on /admin", good, { path: "/admin/users" }, allow({ route: "/admin" })],
      ["valid read-only", readOnly, {}, allow()],
      ["expired", expired, {}, deny("ERR_JWT_EXPIRED", 401, { alg })],
      ["tampered", tampered, {}, deny("ERR_JWS_SIGNATURE_VERIFICATION_FAILED", 401, { alg })],
      ["unknown alg", badAlg, {}, deny("ERR_JOSE_ALG_NOT_ALLOWED", 401, { alg: "other" })],
      ["no token", undefined, {}, deny("ERR_NO_TOKEN", 401)],
      ["Basic", undefined, { headers: { authorization: "Basic Zm9vOmJhcg==" } }, deny("ERR_INVALID_REQUEST", 400)],
      // verified, so its client_id is a label
      ["missing scope", readOnly, { path: "/admin/users" }, deny("ERR_JWT_CLAIM_VALIDATION_FAILED", 403, { route: "/admin", alg, client_id: claims.client_id })],
      ["revoked", victim, {}, deny("ERR_JWT_REVOKED", 401, { alg })],
    ];
    // the startup request was the gateway's first decision
    const expected = [deny("ERR_NO_TOKEN", 401)];
    const wrong = [];
    for (const [what, tok, opts, want] of script) {
      const got = await call(tok, { ...opts, gateway: metricsPort });
      if (got.status !== want.status || (want.outcome === "deny" && got.body.error !== want.code)) wrong.push(`${what}: ${t(got)}`);
      expected.push(want);
    }
    // METRICS_PATH answers GET only: a POST there is an ordinary (unauthenticated) request
    callCount++;
    const post = await fetch(`http://127.0.0.1:${metricsPort}${METRICS_PATH}`, { method: "POST", body: "x" });
    if (post.status !== 401) wrong.push(`POST ${METRICS_PATH}: ${post.status}`);
    expected.push(deny("ERR_NO_TOKEN", 401));
    check(`gwMetrics: the scripted mix (${expected.length} requests) got the expected answers`, wrong.length === 0, wrong.join("\n  "));

    // the mix, stated as counts: 3 allows; denials by code
    const mix = {
      "allow|OK": 3,
      "deny|ERR_NO_TOKEN": 3, // startup, no token, POST to the metrics path
      "deny|ERR_INVALID_REQUEST": 1,
      "deny|ERR_JWT_EXPIRED": 1,
      "deny|ERR_JWS_SIGNATURE_VERIFICATION_FAILED": 1,
      "deny|ERR_JOSE_ALG_NOT_ALLOWED": 1,
      "deny|ERR_JWT_CLAIM_VALIDATION_FAILED": 1,
      "deny|ERR_JWT_REVOKED": 1,
    };
    check("the script adds up to the stated mix", sameCounts(tally(expected.map((e) => `${e.outcome}|${e.code}`)), mix), JSON.stringify(expected));

    const m1 = await scrape(metricsPort);
    check(
      `GET ${METRICS_PATH} -> 200 text/plain version=0.0.4`,
      m1.status === 200 && /^text\/plain; version=0\.0\.4/.test(m1.contentType ?? ""),
      `${m1.status} ${m1.contentType}`,
    );
    check(
      "metrics: HELP and TYPE lines (decisions_total counter, per isolate; isolate_start_time_seconds gauge)",
      m1.type.get("jwt_edge_edge_decisions_total") === "counter" &&
        /per isolate/i.test(m1.help.get("jwt_edge_edge_decisions_total") ?? "") &&
        m1.type.get("jwt_edge_edge_isolate_start_time_seconds") === "gauge" &&
        m1.help.has("jwt_edge_edge_isolate_start_time_seconds"),
      m1.text,
    );
    const started = m1.samples.find((x) => x.name === "jwt_edge_edge_isolate_start_time_seconds")?.value;
    check("metrics: the isolate start time is within this test run", started >= Math.floor(t0 / 1000) - 1 && started <= Date.now() / 1000 + 1, m1.text);
    const samples = m1.samples.filter((x) => x.name === "jwt_edge_edge_decisions_total");
    check(
      "metrics: every sample has exactly the outcome and code labels, once",
      samples.every((x) => Object.keys(x.labels).sort().join() === "code,outcome") && new Set(samples.map((x) => `${x.labels.outcome}|${x.labels.code}`)).size === samples.length,
      m1.text,
    );
    check("metrics: jwt_edge_edge_decisions_total equals the mix exactly", sameCounts(countersOf(m1), mix), `${JSON.stringify(countersOf(m1))}\n  want ${JSON.stringify(mix)}`);
    const m2 = await scrape(metricsPort);
    check("metrics: scraping is not a decision (a second scrape reads the same counts)", sameCounts(countersOf(m2), mix), m2.text);
    r = await call(undefined, { path: METRICS_PATH });
    check(`a gateway without METRICS_PATH treats ${METRICS_PATH} as any path (401 ERR_NO_TOKEN)`, r.status === 401 && r.body.error === "ERR_NO_TOKEN", t(r));

    // Analytics Engine: one point per request, in order, with the documented schema
    const ae = await until(
      async () => points.filter((p) => p.dataset === "decisions_gwMetrics"),
      (x) => x.length >= expected.length,
      3000,
    );
    const asPoint = (e) => ({ indexes: [e.code], blobs: [e.outcome, e.code, String(e.status), e.route, e.alg, e.client_id] });
    const bad = ae
      .map((p, i) => {
        const want = expected[i] && asPoint(expected[i]);
        const ok =
          want &&
          JSON.stringify({ indexes: p.indexes, blobs: p.blobs }) === JSON.stringify(want) &&
          p.doubles.length === 2 &&
          p.doubles[0] === 1 &&
          Number.isInteger(p.doubles[1]) &&
          p.doubles[1] >= 0;
        return ok ? null : `#${i}: ${JSON.stringify(p)}\n  want ${JSON.stringify(want)}`;
      })
      .filter(Boolean);
    check(`DECISIONS: ${ae.length} data points for ${expected.length} requests on gwMetrics`, ae.length === expected.length, JSON.stringify(ae));
    check("DECISIONS: each point is {indexes:[code], blobs:[outcome, code, status, route, alg, client_id], doubles:[1, ms]}", ae.length > 0 && bad.length === 0, bad.join("\n  "));
    const byCode = {};
    for (const p of ae) byCode[`${p.blobs[0]}|${p.blobs[1]}`] = (byCode[`${p.blobs[0]}|${p.blobs[1]}`] ?? 0) + p.doubles[0];
    check("DECISIONS: SUM(double1) by outcome and code equals the mix", sameCounts(byCode, mix), JSON.stringify(byCode));

    // a throwing DECISIONS binding: the requests are answered as usual, the
    // failure is logged once, the in-isolate counters still count
    let ok = true;
    r = await call(good, { gateway: brokenPort });
    ok &&= r.status === 200 && r.body.headers["x-jwt-sub"] === claims.sub;
    const r2 = await call(undefined, { gateway: brokenPort });
    ok &&= r2.status === 401 && r2.body.error === "ERR_NO_TOKEN";
    check("gwBroken: a DECISIONS binding that throws does not change the answers (200, 401)", ok, `${t(r)} ${t(r2)}`);
    const mb = await scrape(brokenPort);
    check("gwBroken: its counters still count (startup + no token, one allow)", sameCounts(countersOf(mb), { "deny|ERR_NO_TOKEN": 2, "allow|OK": 1 }), mb.text);
    check(
      "gwBroken: the failure is logged once per isolate, no point recorded",
      metricsErrors.length === 1 && metricsErrors[0].message === "dataset down" && !points.some((p) => p.dataset === "decisions_gwBroken"),
      JSON.stringify(metricsErrors),
    );
  }

  // a key rotated in after "gw" cached the JWKS: the unknown kid makes it refetch
  cli("keys", "generate");
  cli("keys", "rotate", "--now", String(now + 32 * 86_400)); // the new key becomes active
  const rotated = cli("issue", "--provisioning-key", keyA, "--aud", AUD);
  const newKid = JSON.parse(Buffer.from(rotated.split(".")[0], "base64url")).kid;
  check("the new token is signed by a different key", newKid !== JSON.parse(Buffer.from(h, "base64url")).kid, newKid);
  // the server publishes it within --refresh-interval
  const published = await until(
    async () => (await (await fetch(`${issuerUrl}/.well-known/jwks.json`)).json()).keys.some((k) => k.kid === newKid),
    (x) => x,
  );
  check("the issuer publishes the new key", published, "not in the JWKS after 8 s");
  r = await call(rotated);
  check("token signed by a key rotated in after caching -> 200 (kid-miss refetch)", r.status === 200, t(r));
  r = await call(good);
  check("tokens of the previous (retiring) key still -> 200", r.status === 200, t(r));

  // issuer stopped: stale-if-error keeps valid tokens working on gwShort
  const fresh = await token(keyA, { scope: "read:reports", audience: AUD });
  r = await call(fresh, { gateway: shortPort });
  check("gwShort: valid -> 200 while the issuer runs", r.status === 200, t(r));
  r = await call(fresh, { gateway: strictPort });
  check("gwStrict: valid -> 200 while the issuer runs", r.status === 200, t(r));
  issuer.child.kill("SIGTERM");
  await new Promise((ok) => (issuer.child.exitCode !== null ? ok() : issuer.child.once("exit", ok)));
  await sleep(2500); // past both max-ages: every request now tries a refresh that fails
  const fresh2 = cli("issue", "--provisioning-key", keyA, "--aud", AUD, "--scope", "read:reports"); // never seen by the cache
  r = await call(fresh2, { gateway: shortPort });
  check("issuer down, documents stale: an unseen valid token -> 200 (stale-if-error)", r.status === 200, t(r));
  await sleep(1500);
  r = await call(fresh, { gateway: shortPort });
  check("issuer down: a known valid token -> 200", r.status === 200, t(r));
  r = await call(victim, { gateway: shortPort });
  check("issuer down: the revoked token stays revoked (held list) -> 401", r.status === 401 && r.body.error === "ERR_JWT_REVOKED", t(r));
  r = await call(tampered, { gateway: shortPort });
  check("issuer down: tampered -> 401", r.status === 401, t(r));
  r = await call(fresh2, { gateway: strictPort });
  check(
    "issuer down past maxStale: fails closed -> 503 with Retry-After and a retryable ERR_* code",
    r.status === 503 && ["ERR_JWKS_TIMEOUT", "ERR_REVOCATIONS_UNAVAILABLE"].includes(r.body.error) && r.retryAfter === "5",
    t(r),
  );

  // a POST body reaches the origin
  {
    callCount++;
    const res = await fetch(`http://127.0.0.1:${port}/reports`, { method: "POST", headers: { authorization: `Bearer ${good}`, "content-type": "text/plain" }, body: "hello origin" });
    const body = await res.json();
    check("POST with a body is forwarded (method, body length)", res.status === 200 && body.method === "POST" && body.length === 12, JSON.stringify(body).slice(0, 300));
  }

  // decision log: one JSON record per request, never the token
  await sleep(300);
  const all = [good, expired, tampered, other, readOnly, victim, b, rotated, fresh, fresh2];
  const leaked = all.some((x) => workerdOut.includes(x) || workerdOut.includes(x.split(".")[2]));
  check("decision records carry time, outcome, code, kid, sub, jti; no token or signature in the log", !leaked && logs.length > 0 && logs.every((l) => l.time && l.outcome && l.status), `${logs.length} records, leaked=${leaked}`);
  const revokedLog = logs.find((l) => l.code === "ERR_JWT_REVOKED" && l.jti === JSON.parse(Buffer.from(victim.split(".")[1], "base64url")).jti);
  check("a denial is logged with its code, kid, sub and jti", revokedLog && revokedLog.kid && revokedLog.sub && revokedLog.outcome === "deny" && revokedLog.verified === false, JSON.stringify(logs.slice(-3)));
  const allowLog = logs.find((l) => l.outcome === "allow" && l.jti === claims.jti);
  check("an allowed request is logged with its kid, sub, jti", !!allowLog?.kid && allowLog.sub === claims.sub && allowLog.status === 200, JSON.stringify(allowLog));
  check(`one record per request (${logs.length} records)`, logs.length === callCount, `${logs.length} vs ${callCount}`);
  // what a log pipeline counts: every record has outcome and code ("OK" for an allow)
  const badRecords = logs.filter((l) => l.event !== "jwt.decision" || !["allow", "deny", "error"].includes(l.outcome) || typeof l.code !== "string" || !l.code || (l.outcome === "allow") !== (l.code === "OK"));
  check("every decision record has event jwt.decision, outcome and code (OK exactly for allows)", logs.length > 0 && badRecords.length === 0, JSON.stringify(badRecords.slice(0, 3)));
  // ... and the same totals as Analytics Engine: every gateway but gwBroken (3 requests,
  // binding throws) wrote one point per request
  const brokenCalls = 3;
  check(`one data point per request on the other gateways (${points.length} points)`, points.length === callCount - brokenCalls, `${points.length} vs ${callCount} - ${brokenCalls}`);
  const fromLogs = tally(logs.map((l) => `${l.outcome}|${l.code}|${l.status}`));
  const fromPoints = tally(points.map((p) => `${p.blobs[0]}|${p.blobs[1]}|${p.blobs[2]}`).concat(["deny|ERR_NO_TOKEN|401", "allow|OK|200", "deny|ERR_NO_TOKEN|401"]));
  check("the logs and the data points (+ gwBroken's 3) count the same outcome/code/status", sameCounts(fromLogs, fromPoints), `${JSON.stringify(fromLogs)}\n  ${JSON.stringify(fromPoints)}`);
  const jtis = new Set(logs.map((l) => l.jti).filter(Boolean));
  check("no data point carries a jti", jtis.size > 0 && !points.some((p) => p.blobs.some((b) => jtis.has(b)) || p.indexes.some((b) => jtis.has(b))), `${jtis.size} jtis`);
  // The glue reads fetched bodies as bytes: workerd warns about .text() on a
  // body whose Content-Type is not text (the signed list is application/jwt).
  const textWarnings = workerdOut.split("\n").filter((l) => l.includes("Called .text() on an HTTP body"));
  check("workerd logs no .text() warning for the signed revocation list", textWarnings.length === 0, textWarnings.slice(0, 2).join("\n"));
} catch (e) {
  check("no exception", false, e.stack);
} finally {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  origin.close();
}
const failed = results.filter((r) => !r.ok).length;
console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
