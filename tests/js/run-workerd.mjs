// workerd runner: builds a workerd config whose modules are the package files
// reached through the "workerd" export condition (the .wasm imported as a
// compiled module), serves it on loopback with the `workerd` binary from npm,
// asks the test worker to run the suite, prints the results and stops it.
// Usage: node tests/js/run-workerd.mjs
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, relative, resolve } from "node:path";
import { createServer as createHttpServer } from "node:http";
import { fileURLToPath } from "node:url";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const work = join(root, "target/js-test/workerd");
const fixtures = resolve(process.env.JWT_EDGE_FIXTURES ?? join(root, "target/js-test/fixtures.json"));
mkdirSync(work, { recursive: true });

const pkg = JSON.parse(readFileSync(join(root, "pkg/package.json"), "utf8"));
const variants = [["default", pkg.exports["."].workerd], ["full", pkg.exports["./full"].workerd]];

function files(dir) {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

// One module per package file of each variant and of the glue both share
// (pkg/lib), named by its path under pkg/ (not the inline entry's base64).
const modules = [];
const libModules = [];
for (const dir of [...variants.map(([, entry]) => dirname(entry)), "lib"]) {
  for (const f of files(join(root, "pkg", dir))) {
    const name = relative(root, f);
    const path = relative(work, f);
    const into = dir === "lib" ? libModules : modules;
    if (f.endsWith(".wasm")) into.push(`(name = "${name}", wasm = embed "${path}")`);
    else if (f.endsWith(".js") && !f.endsWith(".base64.js")) into.push(`(name = "${name}", esModule = embed "${path}")`);
  }
}
modules.push(...libModules);
const main = `
import * as defaultBuild from "./pkg/${variants[0][1].replace("./", "")}";
import * as fullBuild from "./pkg/${variants[1][1].replace("./", "")}";
import { runSuite } from "./suite.mjs";
import fx from "./fixtures.json";
export default {
  async fetch() {
    const results = [];
    for (const [variant, api] of [["default", defaultBuild], ["full", fullBuild]]) {
      results.push(...await runSuite(api, variant, fx, "workerd"));
    }
    return Response.json(results);
  },
};`;
writeFileSync(join(work, "main.js"), main);


// A JWKS origin for the remote-JWKS worker: slow (so requests overlap a
// fetch), counting its requests.
const T0 = 1_800_000_000;
const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
const originJwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "origin-1", alg: "ES256", use: "sig" }] });
let originFetches = 0;
const originServer = createHttpServer(async (req, res) => {
  originFetches++;
  await new Promise((r) => setTimeout(r, 300));
  res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=120", etag: '"v1"' }).end(originJwks);
});
await new Promise((ok) => originServer.listen(0, "127.0.0.1", ok));
// The workerd sockets' ports: held open together (so that no two are the
// same), after the origin listens (so that none is the origin's).
const freePorts = async (n) => {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((ok) => { const s = createServer().listen(0, "127.0.0.1", () => ok(s)); })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
};
const [port, examplePort, remotePort] = await freePorts(3);
const originUrl = `http://127.0.0.1:${originServer.address().port}/jwks`;
const originToken = await new SignJWT({ iss: "https://issuer.test", sub: "u" })
  .setProtectedHeader({ alg: "ES256", kid: "origin-1" }).setIssuedAt(T0).setExpirationTime(T0 + 86_400).sign(privateKey);
const remoteWorker = `
import { Validator, remoteJwks } from "jwt-edge";
let validator;
export default {
  async fetch(request, env, ctx) {
    validator ??= new Validator({ jwks: remoteJwks(env.JWKS_URL), issuer: "https://issuer.test" });
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    try {
      await validator.verify(token, { now: Number(request.headers.get("x-now")), waitUntil: ctx.waitUntil.bind(ctx) });
      return Response.json({ ok: true });
    } catch (e) {
      return Response.json({ code: e.code, message: e.message }, { status: 401 });
    }
  },
};`;
writeFileSync(join(work, "remote-worker.js"), remoteWorker);
const fx = JSON.parse(readFileSync(fixtures, "utf8"));
// The README's worker snippet (examples/npm/worker.js) as its own service;
// "jwt-edge" resolves to the package's workerd entry.
const defaultModules = [...modules.filter((m) => m.includes('"pkg/default/')), ...libModules];
writeFileSync(
  join(work, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .testWorker),
    (name = "example", worker = .exampleWorker),
    (name = "remote", worker = .remoteWorker),
    (name = "loopback", network = (allow = ["local", "private"])),
  ],
  sockets = [
    (name = "remote", address = "127.0.0.1:${remotePort}", http = (), service = "remote"),
    (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
    (name = "example", address = "127.0.0.1:${examplePort}", http = (), service = "example"),
  ],
);
const remoteWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "remote-worker.js"),
    (name = "jwt-edge", esModule = "export * from './pkg/${variants[0][1].replace("./", "")}';"),
    ${defaultModules.join(",\n    ")}
  ],
  bindings = [(name = "JWKS_URL", text = ${JSON.stringify(originUrl)})],
  globalOutbound = "loopback",
  compatibilityDate = "2025-09-01",
);
const exampleWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "${relative(work, join(root, "examples/npm/worker.js"))}"),
    (name = "jwt-edge", esModule = "export * from './pkg/${variants[0][1].replace("./", "")}';"),
    ${defaultModules.join(",\n    ")}
  ],
  bindings = [
    (name = "JWKS", text = ${JSON.stringify(JSON.stringify(fx.jwks))}),
    (name = "ISSUER", text = ${JSON.stringify(fx.iss)}),
    (name = "AUDIENCE", text = ${JSON.stringify(fx.aud)}),
    (name = "NOW", text = "${fx.now}"),
  ],
  compatibilityDate = "2025-09-01",
);
const testWorker :Workerd.Worker = (
  modules = [
    (name = "main.js", esModule = embed "main.js"),
    (name = "suite.mjs", esModule = embed "${relative(work, join(root, "tests/js/suite.mjs"))}"),
    (name = "fixtures.json", json = embed "${relative(work, fixtures)}"),
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = "2025-09-01",
);
`,
);

const child = spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(work, "config.capnp")], { stdio: ["ignore", "inherit", "inherit"] });
let exited = null;
child.on("exit", (code) => (exited = code));
const deadline = Date.now() + 60_000;
let results;
try {
  for (;;) {
    if (exited !== null) throw new Error(`workerd exited with ${exited}`);
    if (Date.now() > deadline) throw new Error("workerd did not answer within 60 s");
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      results = await res.json();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // The README's worker snippet, through HTTP like any client.
  const call = async (name) => {
    const token = fx.cases.find((c) => c.name === name).token;
    const res = await fetch(`http://127.0.0.1:${examplePort}/`, { headers: { authorization: `Bearer ${token}` } });
    return [res.status, await res.json()];
  };
  const check = (name, ok, detail) => results.push({ name: `[example] worker snippet: ${name}`, ok, error: ok ? undefined : detail });
  const [s1, b1] = await call("valid ES256");
  check("valid token -> 200 with sub", s1 === 200 && b1.sub === "client-1", JSON.stringify([s1, b1]));
  const [s2, b2] = await call("tampered ES256");
  check("tampered token -> 401 with code", s2 === 401 && b2.error === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", JSON.stringify([s2, b2]));
  // Remote JWKS under concurrency: cold start, then a stale refresh.
  const burst = async (now) =>
    Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`http://127.0.0.1:${remotePort}/`, { headers: { authorization: `Bearer ${originToken}`, "x-now": String(now) } }).then(
          async (r) => [r.status, await r.text()],
        ),
      ),
    );
  const cold = await burst(T0);
  const coldOk = cold.every(([st]) => st === 200) && originFetches === 1;
  results.push({ name: "[remote] 20 concurrent requests at cold start: all 200, exactly one JWKS fetch", ok: coldOk, error: coldOk ? undefined : JSON.stringify({ originFetches, cold: cold.slice(0, 3) }) });
  const stale = await burst(T0 + 200); // past max-age 120: stale-while-revalidate
  await new Promise((r) => setTimeout(r, 600)); // let the background refresh (waitUntil) finish
  const staleOk = stale.every(([st]) => st === 200) && originFetches === 2;
  results.push({ name: "[remote] 20 concurrent requests during a refresh: all 200, exactly one more fetch", ok: staleOk, error: staleOk ? undefined : JSON.stringify({ originFetches, stale: stale.slice(0, 3) }) });
} finally {
  child.kill("SIGTERM");
  originServer.close();
}
let failed = 0;
for (const r of results) {
  if (!r.ok) {
    failed++;
    console.log(`not ok - workerd ${r.name}\n${r.error}`);
  }
}
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
