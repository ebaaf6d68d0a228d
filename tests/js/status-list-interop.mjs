// Token Status Lists against an independent implementation
// (@sd-jwt/jwt-status-list, from the lockfile), in Node with the npm package:
// 1. lists made by @sd-jwt/jwt-status-list (bits 1, 2, 4, 8; random statuses;
//    signed by jose) install in our Validator, and every status reads back as
//    that library wrote it (0 valid, 1 revoked, 2 suspended, others refused);
// 2. lists made by our issuer (`jwt-edge statuslist N`, after `revoke token`)
//    decode in @sd-jwt/jwt-status-list to exactly the revoked indexes;
// 3. a remote list is fetched from the URI the token names, only under the
//    allowed prefix, and a bomb-sized list is refused.
// Needs target/debug/jwt-edge and the npm package in pkg/.
// Usage: node tests/js/status-list-interop.mjs   -> "N passed, N failed"
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { StatusList, createHeaderAndPayload, getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { Validator, remoteStatusLists } from "jwt-edge";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.JWT_EDGE_BIN ?? join(root, "target/debug/jwt-edge");
if (!existsSync(bin)) {
  console.error(`${bin} missing: cargo build --features cli,server --bin jwt-edge`);
  process.exit(1);
}
const results = [];
const check = (name, ok, detail) => {
  results.push(ok);
  console.log(`${ok ? "ok" : "not ok"} - ${name}${ok ? "" : `\n  ${detail}`}`);
};
const attempt = (f) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { code: e.code, reason: e.revocationReason, message: e.message };
  }
};

const ISS = "https://issuer.test";
const now = Math.floor(Date.now() / 1000);
const { privateKey, publicKey } = await generateKeyPair("ES256");
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
const sign = (payload, typ = "at+jwt") => new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: "k1", typ }).sign(privateKey);
const token = (uri, idx) => sign({ iss: ISS, sub: "s", iat: now, exp: now + 600, status: { status_list: { idx, uri } } });
const tokens = {};
for (const bits of [1, 2, 4, 8]) {
  const uri = `${ISS}/lists/${bits}`;
  for (const idx of [0, 1, 2, 3, 17, 99, 255, 256, 399, 400 * 8]) tokens[`${uri}#${idx}`] = await token(uri, idx);
}

// 1. Their lists, our validator.
let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const indexes = [0, 1, 2, 3, 17, 99, 255, 256, 399];
for (const bits of [1, 2, 4, 8]) {
  const uri = `${ISS}/lists/${bits}`;
  const statuses = Array.from({ length: 400 }, () => Math.floor(random() * 2 ** bits));
  for (const idx of [1, 2, 3]) statuses[idx] = Math.min(idx - 1, 2 ** bits - 1); // 0, 1, 2 (or 1) present
  const list = new StatusList(statuses, bits);
  const { header, payload } = createHeaderAndPayload(list, { iss: ISS, sub: uri, iat: now, exp: now + 3600, ttl: 60 }, { alg: "ES256", typ: "statuslist+jwt", kid: "k1" });
  const jws = await new SignJWT(payload).setProtectedHeader(header).sign(privateKey);
  const v = new Validator({ jwks: { keys: [jwk] }, issuer: ISS, statusLists: true });
  v.setStatusList(uri, jws, { now });
  const wrong = [];
  for (const idx of indexes) {
    const want = statuses[idx];
    const r = attempt(() => v.verifySync(tokens[`${uri}#${idx}`], { now }));
    const expect = want === 0 ? "ok" : want === 2 ? "suspended" : "status_list";
    const seen = r.ok ? "ok" : r.reason ?? r.code;
    if (seen !== expect) wrong.push(`idx ${idx}: status ${want}, got ${seen}`);
  }
  check(`@sd-jwt/jwt-status-list list (bits ${bits}) reads back in jwt-edge`, wrong.length === 0, wrong.join("; "));
  const past = attempt(() => v.verifySync(tokens[`${uri}#${400 * 8}`], { now }));
  check(`bits ${bits}: an index beyond the list is refused`, past.code === "ERR_STATUS_LIST_INVALID", JSON.stringify(past));
}

// 2. Our issuer's lists, their decoder.
const work = join(root, "target/status-list-interop");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const env = { ...process.env, JWT_EDGE_DB: join(work, "issuer.db") };
delete env.JWT_EDGE_PASSPHRASE;
const cli = (...args) => execFileSync(bin, [...args, "--insecure-dev-keys"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
cli("init", "--issuer", ISS);
const key = cli("provision", "create", "--name", "svc", "--scope", "read", "--aud", "https://api.test");
const issued = Array.from({ length: 20 }, () => cli("issue", "--provisioning-key", key));
const revoked = [3, 7, 19];
for (const n of revoked) {
  const jti = JSON.parse(Buffer.from(issued[n].split(".")[1], "base64url")).jti;
  cli("revoke", "token", `--jti=${jti}`);
}
const ours = cli("statuslist", "1");
const decoded = getListFromStatusListJWT(ours);
const set = [];
for (let i = 0; i < 20; i++) if (decoded.getStatus(i) !== 0) set.push(i);
check("jwt-edge's status list decodes in @sd-jwt/jwt-status-list to exactly the revoked indexes", JSON.stringify(set) === JSON.stringify(revoked), `got ${JSON.stringify(set)}`);
const idxs = issued.map((t) => JSON.parse(Buffer.from(t.split(".")[1], "base64url")).status.status_list.idx);
check("tokens carry consecutive indexes 0..19", JSON.stringify(idxs) === JSON.stringify([...Array(20).keys()]), JSON.stringify(idxs));

// 3. Remote lists: fetched from the token's URI, only under the allowed prefix;
// a bomb is refused.
const jwks = JSON.parse(cli("jwks"));
const statusUri = `${ISS}/statuslists/1`;
const fetched = [];
const fetchStub = async (url) => {
  fetched.push(String(url));
  return new Response(ours, { status: 200, headers: { "cache-control": "max-age=60", "content-type": "application/statuslist+jwt" } });
};
const remote = new Validator({ jwks, issuer: ISS, statusLists: remoteStatusLists({ fetch: fetchStub }) });
const ok = await remote.verify(issued[0]).then(() => "ok", (e) => e.code);
const bad = await remote.verify(issued[3]).then(() => "ok", (e) => e.revocationReason ?? e.code);
check("remote: a valid token verifies after one fetch of its list", ok === "ok" && fetched.length === 1 && fetched[0] === statusUri, `${ok} ${JSON.stringify(fetched)}`);
check("remote: a revoked token is refused (reason status_list)", bad === "status_list", bad);
const cdnOnly = new Validator({ jwks, issuer: ISS, statusLists: remoteStatusLists({ fetch: fetchStub }), statusListPrefixes: ["https://cdn.example/"] });
const before = fetched.length;
const outside = await cdnOnly.verify(issued[0]).then(() => "ok", (e) => e.code);
check("remote: a list outside the allowed prefix is never fetched", outside === "ERR_STATUS_LIST_INVALID" && fetched.length === before, `${outside}, fetches ${fetched.length - before}`);
// A 64 MiB list of zeros compresses to ~64 KiB: refused as a bomb, memory stays flat.
const bombList = await new SignJWT({ sub: `${ISS}/lists/bomb`, iss: ISS, iat: now, status_list: { bits: 1, lst: deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }).toString("base64url") } })
  .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "statuslist+jwt" })
  .sign(privateKey);
const v = new Validator({ jwks: { keys: [jwk] }, issuer: ISS, statusLists: true });
const heapBefore = process.memoryUsage().rss;
const bomb = attempt(() => v.setStatusList(`${ISS}/lists/bomb`, bombList, { now }));
const grew = (process.memoryUsage().rss - heapBefore) / 1024 / 1024;
check("a bomb-sized list is refused without growing memory", bomb.code === "ERR_STATUS_LIST_INVALID" && /bomb/.test(bomb.message) && grew < 32, `${JSON.stringify(bomb)} rss +${grew.toFixed(1)} MiB`);

const failed = results.filter((ok) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
