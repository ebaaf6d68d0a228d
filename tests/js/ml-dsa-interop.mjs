// ML-DSA interop (issue #30), both ways, with real processes:
//  - tokens issued by `jwt-edge serve` from an ML-DSA-65 (and -44, -87) store
//    are verified by @noble/post-quantum (pure JS), by jose on Deno and on
//    Node 24 (their WebCrypto), and by this package's full build (pure Rust);
//  - the ML-DSA tokens of the suite's fixtures (signed by noble, and by jose
//    on Deno and Node 24) are verified by the CLI (`jwt-edge verify`);
//  - serve's tokens are added to the fixtures (`serveMlDsa`), so that the JS
//    suite verifies them on every runtime: run this before the suites.
// Needs target/debug/jwt-edge (cargo build --features cli,server --bin jwt-edge),
// Deno and Node 24 from node_modules, and target/js-test/fixtures.json.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { Validator } from "jwt-edge/full";
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { workerdConfig } from "../../examples/edge-worker/config.mjs";
import { issuerCli, startListening, clientCredentialsToken } from "./issuer-util.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.JWT_EDGE_BIN ?? join(root, "target/debug/jwt-edge");
const deno = join(root, "node_modules/.bin/deno");
const node24 = join(root, "node_modules/node24/bin/node");
for (const exe of [bin, deno, node24]) {
  if (!existsSync(exe)) {
    console.error(`${exe} missing (cargo build --features cli,server --bin jwt-edge; pkg-scripts/setup)`);
    process.exit(1);
  }
}
const noble = { "ML-DSA-44": ml_dsa44, "ML-DSA-65": ml_dsa65, "ML-DSA-87": ml_dsa87 };
const AUD = "https://api.test";
const work = join(root, "target/ml-dsa-interop");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const b64d = (s) => new Uint8Array(Buffer.from(s, "base64url"));
let failures = 0;
const check = (what, ok, detail = "") => {
  console.log(`${ok ? "ok" : "FAILED"} ${what}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures++;
};

// jose's jwtVerify on another runtime, with the JWKS as a local set.
const joseVerify = (runtime, jwks, token, iss) => {
  const script = `import { jwtVerify, createLocalJWKSet } from "jose";
    const [jwks, token, iss, aud] = ${runtime === "deno" ? "Deno.args" : "process.argv.slice(2)"};
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(jwks)), { issuer: iss, audience: aud, typ: "at+jwt" });
    console.log(JSON.stringify({ alg: protectedHeader.alg, client_id: payload.client_id }));`;
  const file = join(work, `verify-${runtime}.mjs`);
  writeFileSync(file, script);
  const [cmd, args] = runtime === "deno" ? [deno, ["run", "--allow-read", "--allow-env", file]] : [node24, ["--no-warnings", file]];
  return JSON.parse(execFileSync(cmd, [...args, JSON.stringify(jwks), token, iss, AUD], { cwd: root, encoding: "utf8" }));
};

// A free loopback port (the issuer URL names it, so it is chosen first).
const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

const children = [];
const fixturesFile = join(root, "target/js-test/fixtures.json");
const served = [];
try {
  for (const alg of Object.keys(noble)) {
    const db = join(work, `${alg}.db`);
    const { cli, env } = issuerCli(bin, db);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    cli("init", "--issuer", base, "--alg", alg);
    const key = cli("provision", "create", "--name", "pq", "--scope", "read", "--aud", AUD);
    await startListening(children, bin, ["serve", "--addr", `127.0.0.1:${port}`, "--insecure-dev-keys"], { env });
    const token = await clientCredentialsToken(base, key);
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    const [h, p, s] = token.split(".");
    const header = JSON.parse(Buffer.from(h, "base64url"));
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    check(`serve ${alg}: the token's alg and its AKP key`, header.alg === alg && jwk?.kty === "AKP" && jwk?.alg === alg, JSON.stringify(header));
    // noble: the raw ML-DSA signature over the JWS signing input.
    const nobleOk = noble[alg].verify(b64d(s), new TextEncoder().encode(`${h}.${p}`), b64d(jwk.pub));
    check(`serve ${alg}: @noble/post-quantum verifies`, nobleOk);
    const tampered = b64d(s);
    tampered[7] ^= 1;
    check(`serve ${alg}: noble refuses a flipped bit`, !noble[alg].verify(tampered, new TextEncoder().encode(`${h}.${p}`), b64d(jwk.pub)));
    for (const runtime of ["deno", "node24"]) {
      try {
        const r = joseVerify(runtime, jwks, token, base);
        check(`serve ${alg}: jose on ${runtime} verifies`, r.alg === alg);
      } catch (e) {
        check(`serve ${alg}: jose on ${runtime} verifies`, false, String(e.stderr ?? e.message).slice(0, 300));
      }
    }
    const v = new Validator({ jwks, issuer: base, audience: AUD });
    const ours = v.verifySync(token);
    check(`serve ${alg}: jwt-edge/full (pure Rust) verifies`, ours.header.alg === alg);
    served.push({ alg, jwks, token, iss: base, aud: AUD, now: ours.claims.iat + 1, clientId: ours.claims.client_id });
    // The edge worker in workerd on jwt-edge/full (workerd's WebCrypto has no ML-DSA).
    const origin = createHttpServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sub: req.headers["x-jwt-sub"] ?? null })));
    await new Promise((ok) => origin.listen(0, "127.0.0.1", ok));
    const gwPort = await freePort();
    const gwDir = join(work, `gw-${alg}`);
    mkdirSync(gwDir, { recursive: true });
    writeFileSync(
      join(gwDir, "config.capnp"),
      workerdConfig({
        outDir: gwDir,
        build: "full",
        gateways: [{ name: "gw", address: `127.0.0.1:${gwPort}`, bindings: { ISSUER: base, AUDIENCE: AUD, JWKS_URL: `${base}/.well-known/jwks.json`, ORIGIN_URL: `http://127.0.0.1:${origin.address().port}` } }],
      }),
    );
    children.push(spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(gwDir, "config.capnp")], { stdio: "ignore" }));
    let res;
    for (let i = 0; i < 100 && !res; i++) {
      try {
        res = await fetch(`http://127.0.0.1:${gwPort}/resource`, { headers: { authorization: `Bearer ${token}` } });
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const body = res ? await res.text() : "";
    check(`serve ${alg}: the edge worker (workerd, jwt-edge/full) lets the token through`, res?.status === 200 && JSON.parse(body).sub === ours.claims.sub, `${res?.status} ${body.slice(0, 200)}`);
    const bad = await fetch(`http://127.0.0.1:${gwPort}/resource`, { headers: { authorization: `Bearer ${token.slice(0, -8)}AAAAAAAA` } });
    check(`serve ${alg}: the edge worker refuses it tampered`, bad.status === 401, String(bad.status));
    origin.close();
    for (const c of children.splice(0)) c.kill();
  }

  // The CLI on the fixtures' ML-DSA tokens (noble, jose on Deno and Node 24);
  // serve's tokens into the fixtures, for the suite on every runtime.
  const fx = JSON.parse(readFileSync(fixturesFile, "utf8"));
  fx.serveMlDsa = served;
  writeFileSync(fixturesFile, JSON.stringify(fx));
  const jwksFile = join(work, "fixtures-jwks.json");
  writeFileSync(jwksFile, JSON.stringify(fx.jwks));
  const ml = fx.cases.filter((c) => c.alg.startsWith("ML-DSA"));
  check("fixtures carry ML-DSA cases from noble, jose on Deno and on Node 24", ml.length === 18, String(ml.length));
  for (const c of ml) {
    let code = 0, stderr = "";
    try {
      execFileSync(bin, ["verify", "--jwks", jwksFile, "--now", String(fx.now), "--iss", fx.iss, "--aud", fx.aud, c.token], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      code = e.status;
      stderr = String(e.stderr);
    }
    const ok = c.expect.ok ? code === 0 : code === 1 && stderr.startsWith(`${c.expect.code}:`);
    check(`CLI: ${c.name}`, ok, ok ? "" : `exit ${code} ${stderr.slice(0, 200)}`);
  }
} finally {
  for (const c of children) c.kill();
}
if (failures) {
  console.error(`${failures} ML-DSA interop check(s) failed`);
  process.exit(1);
}
console.log("ML-DSA interop: all checks passed");
