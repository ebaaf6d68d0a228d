// DPoP (RFC 9449) end to end with an unmodified client: oauth4webapi's DPoP
// handle obtains a bound token from a real `jwt-edge serve` (authorization-
// server nonces on: the client performs the use_dpop_nonce round trip
// itself), then calls
//   - the edge worker (examples/edge-worker, DPOP=required, resource-server
//     nonces on) in real workerd, which forwards to an echo origin, and
//   - a Node resource server built on Validator.verifyRequest,
// for ES256, EdDSA and PS256 client keys. Then what an attacker tries: the
// bound token as Bearer, replayed proofs, a proof for another URL, a token
// with another client's proof.
//
// Needs target/debug/jwt-edge (cargo build --features cli,server --bin jwt-edge)
// and the npm package in pkg/ (./pkg-scripts/build).
// Usage: node tests/js/dpop-e2e.mjs   -> "N passed, N failed", exit 1 on failure
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as oauth from "oauth4webapi";
import { Validator, remoteJwks } from "jwt-edge";
import { workerdConfig } from "../../examples/edge-worker/config.mjs";
import { issuerCli, startListening } from "./issuer-util.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.JWT_EDGE_BIN ?? join(root, "target/debug/jwt-edge");
if (!existsSync(bin)) {
  console.error(`${bin} missing: cargo build --features cli,server --bin jwt-edge`);
  process.exit(1);
}
const work = join(root, "target/dpop-e2e");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const ISS = "https://issuer.test";
const AUD = "https://api.test";
const { cli, env } = issuerCli(bin, join(work, "issuer.db"));
const children = [];
const results = [];
const check = (name, ok, detail) => {
  results.push({ name, ok });
  console.log(`${ok ? "ok" : "not ok"} - ${name}${ok ? "" : `\n  ${detail}`}`);
};
const deadline = setTimeout(() => {
  console.log("not ok - overran 120 s");
  for (const c of children) c.kill();
  process.exit(1);
}, 120_000);
// Ports for the processes this script starts: held open together (no two
// the same), taken after this script's own servers listen (none of theirs).
const freePorts = async (n) => {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((ok) => { const s = createServer().listen(0, "127.0.0.1", () => ok(s)); })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
};

try {
  cli("init", "--issuer", ISS);
  const key = cli("provision", "create", "--name", "dpop-client", "--scope", "read", "--aud", AUD, "--require-dpop");
  const [, clientId, clientSecret] = /^jep_([0-9a-f]{16})_(.+)$/.exec(key);

  // --- the origin behind the gateway: echoes the verified claims it was given
  const origin = createHttpServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sub: req.headers["x-jwt-sub"] ?? null })));
  await new Promise((ok) => origin.listen(0, "127.0.0.1", ok));
  // --- a Node resource server on Validator.verifyRequest (DPoP allowed; its
  // validator is made once the issuer's URL is known)
  let rs;
  const api = createHttpServer(async (req, res) => {
    const url = `http://${req.headers.host}${req.url}`;
    try {
      const { claims } = await rs.verifyRequest(new Request(url, { method: req.method, headers: req.headers }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sub: claims.sub }));
    } catch (e) {
      const headers = { "content-type": "application/json" };
      if (e.wwwAuthenticate) headers["www-authenticate"] = e.wwwAuthenticate;
      if (e.dpopNonce) headers["dpop-nonce"] = e.dpopNonce;
      res.writeHead(e.status ?? 500, headers).end(JSON.stringify({ error: e.code }));
    }
  });
  await new Promise((ok) => api.listen(0, "127.0.0.1", ok));
  const apiBase = `http://127.0.0.1:${api.address().port}`;

  // --- the issuer, its token endpoint public at its loopback address
  const [issuerPort, gwPort] = await freePorts(2);
  const base = `http://127.0.0.1:${issuerPort}`;
  await startListening(children, bin, ["serve", "--addr", `127.0.0.1:${issuerPort}`, "--public-url", base, "--dpop-nonce", "--insecure-dev-keys"], { env });
  rs = new Validator({ jwks: remoteJwks(`${base}/.well-known/jwks.json`), issuer: ISS, audience: AUD, dpop: {} });

  // --- the edge worker in workerd: DPoP required, resource-server nonces
  const capnp = workerdConfig({
    outDir: work,
    gateways: [
      {
        name: "gwDpop",
        address: `127.0.0.1:${gwPort}`,
        bindings: {
          ISSUER: ISS,
          AUDIENCE: AUD,
          JWKS_URL: `${base}/.well-known/jwks.json`,
          ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`,
          DPOP: "required",
          DPOP_NONCE_SECRET: "a secret every isolate of this gateway shares, 32+ bytes",
        },
      },
    ],
  });
  writeFileSync(join(work, "config.capnp"), capnp);
  const workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(work, "config.capnp")], { stdio: ["ignore", "ignore", "ignore"] });
  children.push(workerd);

  // workerd takes a moment to listen
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${gwPort}/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const as = { issuer: ISS, token_endpoint: `${base}/token` };
  const client = { client_id: clientId };
  const insecure = { [oauth.allowInsecureRequests]: true, signal: AbortSignal.timeout(10_000) };
  // oauth4webapi's documented pattern: one retry when the server asks for a nonce.
  async function withNonce(fn) {
    try {
      return await fn();
    } catch (e) {
      if (!oauth.isDPoPNonceError(e)) throw e;
      return fn();
    }
  }
  const keyParams = {
    ES256: { name: "ECDSA", namedCurve: "P-256" },
    EdDSA: { name: "Ed25519" },
    PS256: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  };
  const tokens = {};
  for (const [alg, params] of Object.entries(keyParams)) {
    const keyPair = await crypto.subtle.generateKey(params, false, ["sign", "verify"]);
    const DPoP = oauth.DPoP(client, keyPair);
    let token;
    try {
      const grant = await withNonce(async () => oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(clientSecret), new URLSearchParams({ scope: "read", resource: AUD }), { ...insecure, DPoP })));
      token = grant.access_token;
      tokens[alg] = { token, DPoP, keyPair };
      const jkt = await DPoP.calculateThumbprint();
      const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
      check(`${alg}: oauth4webapi gets a token bound to its key from jwt-edge serve (AS nonce round trip)`, grant.token_type.toLowerCase() === "dpop" && claims.cnf?.jkt === jkt, JSON.stringify({ type: grant.token_type, cnf: claims.cnf, jkt }));
    } catch (e) {
      check(`${alg}: oauth4webapi gets a bound token`, false, `${e?.name}: ${e?.message} ${JSON.stringify(e?.cause ?? "")}`);
      continue;
    }
    for (const [where, url] of [["the edge worker in workerd", `http://127.0.0.1:${gwPort}/reports`], ["a Node resource server", `${apiBase}/things`]]) {
      try {
        const res = await withNonce(() => oauth.protectedResourceRequest(token, "GET", new URL(url), new Headers(), null, { ...insecure, DPoP }));
        const body = await res.json();
        check(`${alg}: ${where} accepts the DPoP request`, res.status === 200 && body.sub === clientId, `${res.status} ${JSON.stringify(body)}`);
      } catch (e) {
        check(`${alg}: ${where} accepts the DPoP request`, false, `${e?.name}: ${e?.message} ${e?.response?.status ?? ""}`);
      }
    }
  }

  // --- attacks, on both resource servers
  const es = tokens.ES256;
  if (es) {
    for (const [where, url] of [["edge worker", `http://127.0.0.1:${gwPort}/reports`], ["Node", `${apiBase}/things`]]) {
      const bearer = await fetch(url, { headers: { authorization: `Bearer ${es.token}` } });
      const www = bearer.headers.get("www-authenticate") ?? "";
      check(`${where}: the bound token as Bearer is refused (401, DPoP challenge)`, bearer.status === 401 && www.startsWith("DPoP algs="), `${bearer.status} ${www}`);
      // A proof captured from a request, replayed with the token.
      let captured;
      const capture = async (u, init) => {
        captured = new Headers(init.headers).get("dpop");
        return fetch(u, init);
      };
      await withNonce(() => oauth.protectedResourceRequest(es.token, "GET", new URL(url), new Headers(), null, { ...insecure, DPoP: es.DPoP, [oauth.customFetch]: capture }));
      const replay = await fetch(url, { headers: { authorization: `DPoP ${es.token}`, dpop: captured } });
      const body = await replay.json();
      check(`${where}: a replayed proof is refused`, replay.status === 401 && ["ERR_DPOP_REPLAYED", "ERR_DPOP_NONCE_REQUIRED"].includes(body.error), `${replay.status} ${JSON.stringify(body)}`);
      const elsewhere = await fetch(url.replace(/\/[a-z]+$/, "/other"), { headers: { authorization: `DPoP ${es.token}`, dpop: captured } });
      check(`${where}: a proof reused for another URL is refused`, elsewhere.status === 401 && (await elsewhere.json()).error === "ERR_DPOP_INVALID", String(elsewhere.status));
    }
    // The ES256 client's proof with the EdDSA client's token.
    if (tokens.EdDSA) {
      let proof;
      const capture = async (u, init) => {
        proof = new Headers(init.headers).get("dpop");
        return fetch(u, init);
      };
      await withNonce(() => oauth.protectedResourceRequest(es.token, "GET", new URL(`${apiBase}/things`), new Headers(), null, { ...insecure, DPoP: es.DPoP, [oauth.customFetch]: capture }));
      const r = await fetch(`${apiBase}/things`, { headers: { authorization: `DPoP ${tokens.EdDSA.token}`, dpop: proof } });
      const b = await r.json();
      check("another client's token with this client's proof is refused", r.status === 401 && ["ERR_DPOP_INVALID", "ERR_DPOP_BINDING_MISMATCH", "ERR_DPOP_REPLAYED"].includes(b.error), `${r.status} ${JSON.stringify(b)}`);
    }
    // The client must use DPoP: a plain client-credentials request is refused.
    const plain = await fetch(`${base}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&scope=read",
    });
    check("a require-dpop client without a proof is refused at /token (400 invalid_dpop_proof)", plain.status === 400 && (await plain.json()).error === "invalid_dpop_proof", String(plain.status));
  }
  api.close();
  origin.close();
} catch (e) {
  check("the end-to-end run", false, e?.stack ?? String(e));
} finally {
  clearTimeout(deadline);
  for (const c of children) c.kill();
}
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
