// End-to-end test of examples/fastly-compute (a Fastly Compute service in Rust,
// wasm32-wasip1) in Viceroy, Fastly's local Compute runtime, on loopback:
// a real `jwt-edge serve` (temp SQLite store, --insecure-dev-keys) as the
// `issuer` backend and examples/edge-worker/origin.mjs as the `origin` backend.
// Builds the example (release, wasm32-wasip1) and its native-timing tool first.
// Needs: target/debug/jwt-edge with serve (cargo build --features cli,server --bin jwt-edge;
// built here once if missing), viceroy 0.16.5
// (installed by pkg-scripts/setup; $VICEROY overrides the path).
// Usage: node tests/js/fastly-viceroy.mjs   -> "N passed, N failed", exit 1 on failure
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect, createServer } from "node:net";
import { homedir } from "node:os";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { clientCredentialsToken, issuerCli, startListening as start } from "./issuer-util.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const t0 = Date.now();
const example = join(root, "examples/fastly-compute");
const manifest = join(example, "Cargo.toml");
const wasm = join(example, "target/wasm32-wasip1/release/jwt-edge-fastly-compute.wasm");
const nativeTiming = join(example, "target/release/native-timing");
const viceroy = process.env.VICEROY ?? [join(homedir(), ".cargo/bin/viceroy")].find(existsSync) ?? "viceroy";
const bin = process.env.JWT_EDGE_BIN ?? join(root, "target/debug/jwt-edge");
const work = join(root, "target/fastly-viceroy-test");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const results = [];
const check = (name, ok, detail) => {
  results.push({ name, ok });
  console.log(`${ok ? "ok" : "not ok"} - ${name}${ok ? "" : `\n  ${String(detail).slice(0, 1500)}`}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

// --- builds (one at a time: the machine is shared)
const cargo = (args) => execFileSync("cargo", args, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
// `serve` needs the features cli,server (a cli-only binary has no issuer commands).
const hasServe = () => existsSync(bin) && / serve /.test(execFileSync(bin, ["--help"], { encoding: "utf8" }));
if (!hasServe() && process.env.JWT_EDGE_BIN === undefined) {
  console.log("# building target/debug/jwt-edge with cli,server (once)");
  cargo(["build", "--bin", "jwt-edge", "--features", "cli,server"]);
}
if (!hasServe()) {
  console.error(`${bin} has no serve command: cargo build --features cli,server --bin jwt-edge`);
  process.exit(1);
}
let tb = Date.now();
cargo(["build", "--release", "--target", "wasm32-wasip1", "--manifest-path", manifest, "--bin", "jwt-edge-fastly-compute"]);
const wasmBuild = Date.now() - tb;
tb = Date.now();
cargo(["build", "--release", "--manifest-path", manifest, "--bin", "native-timing"]);
const nativeBuild = Date.now() - tb;
console.log(`# builds: wasm ${secs(wasmBuild)}, native-timing ${secs(nativeBuild)}`);
const viceroyVersion = execFileSync(viceroy, ["--version"], { encoding: "utf8" }).trim();
console.log(`# ${viceroyVersion}`);

// --- issuer: a store dated in the past (so that an expired token can be issued), one client
const ISS = "https://issuer.test";
const AUD = "https://api.test";
const { cli, env } = issuerCli(bin, join(work, "issuer.db"));
const now = Math.floor(Date.now() / 1000);
cli("init", "--issuer", ISS, "--now", String(now - 20_000));
const key = cli("provision", "create", "--name", "reports", "--scope", "read:reports write:reports", "--aud", AUD, "--now", String(now - 10_000));

const children = [];
// Starts a process that prints {"listening":"ADDR"} as its first line.
const startListening = (cmd, args, opts) => start(children, cmd, args, opts);
const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });

let viceroyOut = "";
const logs = []; // the service's decision records (and other events)
let requests = 0; // requests sent to the service
// One GET on a new connection (as curl does). Through a kept-alive connection
// Node's fetch sees about 40 ms more per proxied answer from Viceroy (a
// transport artefact of the local server: curl and new connections do not).
function get(url, headers) {
  return new Promise((ok, fail) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => ok({ status: res.statusCode, headers: res.headers, text }));
      res.on("error", fail);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on("error", fail);
    req.end();
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const issuer = await startListening(bin, ["serve", "--addr", "127.0.0.1:0", "--refresh-interval", "1s", "--insecure-dev-keys"], { env });
  const issuerUrl = `http://${issuer.addr}`;
  const origin = await startListening(process.execPath, [join(root, "examples/edge-worker/origin.mjs"), "0"], {});
  const originUrl = `http://${origin.addr}`;

  const token = (form = {}) => clientCredentialsToken(issuerUrl, key, form);

  // --- Viceroy: fastly.toml with the two backends and the config store
  const port = await freePort();
  const config = {
    ISSUER: ISS,
    AUDIENCE: AUD,
    JWKS_URL: `${issuerUrl}/.well-known/jwks.json`,
    REVOCATIONS_URL: `${issuerUrl}/revocations`,
    ORIGIN_URL: originUrl,
    REALM: "reports-api",
    ROUTES: JSON.stringify([{ prefix: "/admin", scopes: ["write:reports"] }]),
    // the revocation list is refetched once it is a second old (the demo's setting)
    REVOCATIONS_OPTIONS: JSON.stringify({ minTtl: 1, maxTtl: 1 }),
  };
  const toml = [
    "# Generated by tests/js/fastly-viceroy.mjs",
    'manifest_version = 3',
    'name = "jwt-edge-fastly-compute-test"',
    'language = "rust"',
    "",
    "[local_server.backends.issuer]",
    `url = ${JSON.stringify(issuerUrl)}`,
    "[local_server.backends.origin]",
    `url = ${JSON.stringify(originUrl)}`,
    "",
    "[local_server.config_stores.jwt_edge_config]",
    'format = "inline-toml"',
    "[local_server.config_stores.jwt_edge_config.contents]",
    ...Object.entries(config).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    "",
  ].join("\n");
  writeFileSync(join(work, "fastly.toml"), toml);
  const service = spawn(viceroy, ["serve", "--addr", `127.0.0.1:${port}`, wasm, "-C", join(work, "fastly.toml")], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(service);
  for (const s of [service.stdout, service.stderr]) {
    createInterface({ input: s }).on("line", (line) => {
      viceroyOut += line + "\n";
      const i = line.indexOf('{"time"');
      if (i >= 0) {
        try {
          logs.push(JSON.parse(line.slice(i)));
        } catch {}
      }
    });
  }
  const gw = `http://127.0.0.1:${port}`;
  const tv = Date.now();
  {
    // Viceroy compiles the module before it listens: poll (bounded) until it answers.
    const end = Date.now() + 60_000;
    for (;;) {
      try {
        await fetch(`${gw}/`);
        requests++;
        break;
      } catch {
        if (Date.now() > end || service.exitCode !== null) throw new Error(`viceroy did not start:\n${viceroyOut}`);
        await sleep(100);
      }
    }
  }
  console.log(`# viceroy answered ${secs(Date.now() - tv)} after its start`);

  const decisions = () => logs.filter((l) => l.event === "jwt.decision");
  // The decision record of the last request (written right after the answer).
  async function lastDecision() {
    const end = Date.now() + 3000;
    while (decisions().length < requests && Date.now() < end) await sleep(20);
    return decisions().at(-1);
  }
  async function call(tok, { path = "/reports", headers = {} } = {}) {
    requests++;
    const h = { ...headers };
    if (tok !== undefined) h.authorization = `Bearer ${tok}`;
    const started = performance.now();
    const res = await get(`${gw}${path}`, h);
    const text = res.text;
    const ms = performance.now() - started;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, www: res.headers["www-authenticate"] ?? null, cacheControl: res.headers["cache-control"] ?? null, body, ms, log: await lastDecision() };
  }
  const t = (r) => JSON.stringify(r).slice(0, 600);

  let r = await call(undefined);
  check("no Authorization -> 401, WWW-Authenticate without error code", r.status === 401 && r.www === 'Bearer realm="reports-api"' && r.body.error === "ERR_NO_TOKEN", t(r));
  r = await call(undefined, { headers: { authorization: "Basic Zm9vOmJhcg==" } });
  check("non-Bearer Authorization -> 400 invalid_request", r.status === 400 && /error="invalid_request"/.test(r.www), t(r));

  // valid: forwarded with the verified claims; client-sent claim headers dropped
  const good = await token({ scope: "read:reports", audience: AUD });
  const claims = JSON.parse(Buffer.from(good.split(".")[1], "base64url"));
  r = await call(good, { path: "/reports?x=1", headers: { "x-jwt-sub": "admin", "x-jwt-scope": "everything", "x-jwt-extra": "1" } });
  const fwd = r.body?.forwarded ?? {};
  check(
    "valid token -> 200 at the origin with x-jwt-sub/scope/client-id from the token",
    r.status === 200 && r.body.path === "/reports?x=1" && fwd["x-jwt-sub"] === claims.sub && fwd["x-jwt-scope"] === "read:reports" && fwd["x-jwt-client-id"] === claims.client_id,
    t(r),
  );
  check("client-sent x-jwt-* headers and Authorization are not forwarded", r.status === 200 && fwd["x-jwt-extra"] === undefined && fwd.authorization === undefined, t(r));
  check(
    "first verification: no snapshot in the cache, JWKS and revocation list fetched through the issuer backend",
    r.log?.snapshot === "miss" && r.log?.fetches === 2 && r.log?.outcome === "allow" && r.log?.code === "OK",
    t(r.log),
  );
  r = await call(good);
  check(
    "next request (a new instance): the validator state comes from Fastly's cache, nothing fetched",
    r.status === 200 && r.log?.snapshot === "hit" && r.log?.fetches === 0,
    t(r.log),
  );
  r = await call(good, { path: "//evil.example/x?y=1" });
  check("a path starting with // stays on the origin", r.status === 200 && r.body.path === "//evil.example/x?y=1", t(r));

  // route scopes
  r = await call(good, { path: "/admin/users" });
  check(
    "missing route scope -> 403 insufficient_scope with scope=",
    r.status === 403 && /^Bearer realm="reports-api", error="insufficient_scope", error_description="[^"]+", scope="write:reports"$/.test(r.www) && r.body.claim === "scope",
    t(r),
  );
  check("a scope denial is logged with the verified ids", r.log?.outcome === "deny" && r.log?.status === 403 && r.log?.sub === claims.sub && r.log?.verified === undefined, t(r.log));
  const writer = await token({ scope: "read:reports write:reports", audience: AUD });
  r = await call(writer, { path: "/admin/users" });
  check("token with the route's scope -> 200", r.status === 200 && r.body.path === "/admin/users", t(r));

  // tampered: claims changed, signature kept
  const [h, , s] = good.split(".");
  const tampered = [h, Buffer.from(JSON.stringify({ ...claims, scope: "read:reports write:reports" })).toString("base64url"), s].join(".");
  r = await call(tampered);
  check(
    "tampered token -> 401 invalid_token ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    r.status === 401 && r.body.error === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" && /^Bearer realm="reports-api", error="invalid_token", error_description="[^"]+"$/.test(r.www) && r.cacheControl === "no-store",
    t(r),
  );
  check("a refused token is logged with unverified ids", r.log?.verified === false && r.log?.jti === claims.jti && r.log?.alg === "ES256", t(r.log));
  const expired = cli("issue", "--provisioning-key", key, "--aud", AUD, "--now", String(now - 7200));
  r = await call(expired);
  check("expired token -> 401 ERR_JWT_EXPIRED", r.status === 401 && r.body.error === "ERR_JWT_EXPIRED", t(r));

  // hostile inputs, sent raw: the service answers each (never a trap, which
  // Viceroy would turn into its own 500), and the request log stays one line each
  {
    const raw = (head) =>
      new Promise((ok, fail) => {
        const sock = connect(port, "127.0.0.1");
        let data = Buffer.alloc(0);
        sock.setTimeout(10_000, () => sock.destroy(new Error("raw request: no answer in 10 s")));
        sock.on("data", (d) => (data = Buffer.concat([data, d])));
        sock.on("end", () => ok(Number(/^HTTP\/1\.1 (\d{3})/.exec(data.toString("latin1"))?.[1] ?? 0)));
        sock.on("error", fail);
        // Not end(): a half-closed connection is dropped by Viceroy before the answer.
        sock.write(Buffer.concat([Buffer.from(head, "latin1"), Buffer.from("connection: close\r\n\r\n")]));
      });
    const hdr = (h) => JSON.parse(Buffer.from(h, "base64url"));
    const forge = (header) => [Buffer.from(JSON.stringify({ ...hdr(h), ...header })).toString("base64url"), good.split(".")[1], s].join(".");
    const cases = [
      ["a non-ASCII Authorization value", "GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer \xff\xfe\r\n", 400],
      ["two Authorization headers", `GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${good}\r\nauthorization: Bearer ${good}\r\n`, 400],
      ["a 20 KiB token", `GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${"a".repeat(20_000)}\r\n`, 401],
      ["alg none", `GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${forge({ alg: "none" }).replace(/\.[^.]*$/, ".")}x\r\n`, 401],
      ["alg HS256 with the ES256 key's kid", `GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${forge({ alg: "HS256" })}\r\n`, 401],
      ["an unknown kid (one refetch at most per cooldown)", `GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${forge({ kid: "nope" })}\r\n`, 401],
      ["a token of dots", "GET /reports HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ....\r\n", 401],
      ["odd path and query, a non-UTF-8 x-jwt- header, valid token", `GET /a%ZZ/%C3%A9?q=%%&x=%FF HTTP/1.1\r\nhost: x\r\nx-jwt-sub: \x80\xff\r\nauthorization: Bearer ${good}\r\n`, 200],
    ];
    const got = [];
    for (const [, head] of cases) {
      requests++;
      got.push(await raw(head));
    }
    const wrong = cases.filter((c, i) => got[i] !== c[2]).map((c, i) => `${c[0]}: ${got[cases.indexOf(c)]} (want ${c[2]})`);
    check(`hostile inputs each answered by the service (${cases.map((c) => c[2]).join(", ")})`, wrong.length === 0, wrong.join("; "));
  }

  // timing: the same valid token, a fresh instance each time (state from the cache)
  const N = 20;
  const samples = [];
  for (let i = 0; i < N; i++) {
    r = await call(good);
    if (r.status === 200 && r.log?.snapshot === "hit" && r.log?.fetches === 0) samples.push({ client: r.ms, ...r.log });
  }
  check(`${N} valid requests -> 200, each from a cached snapshot (${samples.length})`, samples.length === N, samples.length);

  // revocation: refused once the service has refetched the signed list
  const victim = await token({ scope: "read:reports", audience: AUD });
  r = await call(victim);
  check("the token to revoke is accepted first", r.status === 200, t(r));
  cli("revoke", "token", "--token", victim);
  const revokedAt = Date.now();
  {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      r = await call(victim);
      if (r.status !== 200) break;
      await sleep(250);
    }
  }
  const revokeMs = Date.now() - revokedAt;
  check(
    `revoked token -> 401 ERR_JWT_REVOKED after the list was refetched (${revokeMs} ms)`,
    r.status === 401 && r.body.error === "ERR_JWT_REVOKED" && /error="invalid_token"/.test(r.www) && r.log?.revocation === "jti",
    t(r),
  );
  const refreshes = logs.filter((l) => l.event === "jwt.refresh" && l.source === "revocations");
  check("the list was refetched in the background, after answers (stale-while-revalidate)", refreshes.some((l) => l.installed === true), JSON.stringify(refreshes.slice(-3)));
  r = await call(good);
  check("other tokens still -> 200", r.status === 200, t(r));

  // the log: one decision record per request, never the token
  await sleep(300);
  const ds = decisions();
  check(`one decision record per request (${ds.length} records, ${requests} requests)`, ds.length === requests, `${ds.length} vs ${requests}`);
  const bad = ds.filter((l) => !["allow", "deny", "error"].includes(l.outcome) || typeof l.code !== "string" || (l.outcome === "allow") !== (l.code === "OK") || !l.time || typeof l.ms !== "number");
  check("every record has time, outcome, code (OK exactly for allows), status, ms", bad.length === 0, JSON.stringify(bad.slice(0, 3)));
  const leaked = [good, writer, tampered, expired, victim].some((x) => viceroyOut.includes(x) || viceroyOut.includes(x.split(".")[2]));
  check("no token or signature in the service's output", !leaked, "leaked");
  check("no panic or trap in Viceroy's output", !/panicked|wasm trap|unreachable/i.test(viceroyOut), viceroyOut.slice(-1500));

  // --- figures: Viceroy (wasm) beside the same work natively
  const jwksFile = join(work, "jwks.json");
  const listFile = join(work, "revocations.jws");
  const tokenFile = join(work, "token.jwt");
  writeFileSync(jwksFile, await (await fetch(config.JWKS_URL)).text());
  writeFileSync(listFile, await (await fetch(config.REVOCATIONS_URL)).text());
  writeFileSync(tokenFile, good);
  const native = JSON.parse(
    execFileSync(nativeTiming, [...Object.entries(config).map(([k, v]) => `${k}=${v}`), "--jwks", jwksFile, "--revocations", listFile, "--token", tokenFile, "--iterations", "200"], { encoding: "utf8" }),
  );
  check("native-timing verifies the same token natively", native.iterations === 200 && native.verify_us.median > 0, JSON.stringify(native));
  const m = (k) => median(samples.map((x) => x[k]));
  const figures = {
    viceroy: { requests: samples.length, verify_us: m("verify_us"), import_us: m("import_us"), cache_read_us: m("cache_read_us"), origin_us: m("origin_us"), service_ms: m("ms"), client_ms: Number(m("client").toFixed(2)) },
    native,
  };
  writeFileSync(join(work, "figures.json"), JSON.stringify(figures, null, 2) + "\n");
  console.log("# per request, median (valid ES256 token, state from the cache, nothing fetched):");
  console.log(`#   verify_us  (token: parse, ES256 signature, claims, revocation check)  Viceroy wasm ${figures.viceroy.verify_us} µs | native ${native.verify_us.median} µs`);
  console.log(`#   import_us  (validator built + snapshot imported: JWKS parsed, signed list verified)  Viceroy wasm ${figures.viceroy.import_us} µs | native ${native.import_us.median} µs`);
  console.log(`#   cache_read_us (core cache lookup + read of the ${native.snapshot_bytes}-byte snapshot, Viceroy only)  ${figures.viceroy.cache_read_us} µs`);
  console.log(`#   origin_us (the origin backend's answer, headers)  ${figures.viceroy.origin_us} µs`);
  console.log(`#   whole request: service to its answer (incl. origin) ${figures.viceroy.service_ms} ms; client round trip (new connection, instance start included) ${figures.viceroy.client_ms} ms`);
  console.log(`#   revocation visible ${revokeMs} ms after the CLI wrote it (issuer refresh 1 s + list TTL 1 s)`);
} catch (e) {
  check("no exception", false, `${e.stack}\n${viceroyOut.slice(-2000)}`);
} finally {
  writeFileSync(join(work, "viceroy.log"), viceroyOut);
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  const end = Date.now() + 5000;
  while (children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < end) await sleep(50);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
const failed = results.filter((r) => !r.ok).length;
console.log(`(${secs(Date.now() - t0)})`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
