// The package's types checked against real data, not only names: the
// issuer's own revocation lists (`jwt-edge revocations`, with a revoked token,
// subject and key) must be assignable to `RevocationList` with TypeScript's
// excess-property checks (`satisfies` on the literal), and then installed by
// the package at run time; hand-written wrong shapes must be refused by tsc.
// Needs target/debug/jwt-edge (issuer features) and pkg/ linked as
// node_modules/jwt-edge. Usage: node tests/types/shapes.mjs
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const bin = join(root, "target/debug/jwt-edge");
const dir = mkdtempSync(join(tmpdir(), "jwt-edge-shapes-"));
const env = { ...process.env, JWT_EDGE_DB: join(dir, "issuer.db"), JWT_EDGE_PASSPHRASE: "shapes-test-passphrase" };
const cli = (...args) => execFileSync(bin, args, { env, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
let passed = 0, failed = 0;
const check = (name, ok, detail = "") => {
  if (ok) passed++; else failed++;
  console.log(`${ok ? "ok" : "FAIL"} - ${name}${ok || !detail ? "" : `\n${detail}`}`);
};
try {
  const ISS = "https://issuer.shapes";
  cli("init", "--issuer", ISS, "--kdf-iterations", "1000");
  const key = cli("provision", "create", "--name", "svc", "--scope", "read", "--aud", "https://api.shapes");
  const token = execFileSync(bin, ["issue", "--provisioning-key", "-"], { env, input: key, encoding: "utf8" }).trim();
  cli("revoke", "token", "--token", token);
  cli("revoke", "subject", "client-x");
  const spare = JSON.parse(cli("keys", "generate", "--json")).kid;
  cli("keys", "revoke", spare);
  const empty = (() => {
    const e = { ...env, JWT_EDGE_DB: join(dir, "empty.db") };
    execFileSync(bin, ["init", "--issuer", ISS, "--kdf-iterations", "1000"], { env: e, stdio: "pipe" });
    return execFileSync(bin, ["revocations"], { env: e, encoding: "utf8" }).trim();
  })();
  const full = cli("revocations");
  const list = JSON.parse(full);
  check("the issuer's list has a revoked token, subject and key", list.revoked?.jti?.length === 1 && list.revoked?.sub?.length === 1 && list.revoked?.kid?.includes(spare), full);

  const good = `import { Validator, type RevocationList } from "jwt-edge";
// Real lists from jwt-edge revocations (literals: every member is checked, extra ones refused).
const full = ${full} satisfies RevocationList;
const empty = ${empty} satisfies RevocationList;
const signed: RevocationList = "a.b.c";
export const lists: RevocationList[] = [full, empty, signed];
export const v = new Validator({ jwks: "{}", revocations: full });
`;
  const bad = [
    ["a list mixing the two forms", `{ iss: "i", epoch: 1, generated_at: 1, revoked: {}, jti: [] }`],
    ["a token entry without exp", `{ iss: "i", epoch: 1, generated_at: 1, revoked: { jti: [{ jti: "a" }] } }`],
    ["a subject entry with a string cut-off", `{ iss: "i", epoch: 1, generated_at: 1, revoked: { sub: [{ sub: "s", before: "1" }] } }`],
    ["an unknown member", `{ iss: "i", epoch: 1, generated_at: 1, revoked: {}, extra: 1 }`],
    ["no epoch", `{ iss: "i", generated_at: 1, revoked: {} }`],
  ];
  const tsc = (name, source) => {
    const file = join(root, "tests/types", `.shape-${name}.ts`);
    writeFileSync(file, source);
    try {
      return spawnSync(join(root, "node_modules/.bin/tsc"), ["--strict", "--noEmit", "--target", "es2022", "--module", "esnext",
        "--moduleResolution", "bundler", "--lib", "es2022,dom", "--skipLibCheck", "false", file], { cwd: root, encoding: "utf8" });
    } finally {
      rmSync(file, { force: true });
    }
  };
  const r = tsc("good", good);
  check("the issuer's real lists type-check as RevocationList", r.status === 0, r.stdout + r.stderr);
  for (const [name, literal] of bad) {
    const b = tsc("bad", `import type { RevocationList } from "jwt-edge";\nexport const x = ${literal} satisfies RevocationList;\n`);
    check(`refused by the type: ${name}`, b.status !== 0 && /\.shape-bad\.ts\(2,\d+\): error TS/.test(b.stdout), b.stdout + b.stderr);
  }
  // The same real list installs at run time (the type describes what works).
  const { Validator } = await import("jwt-edge");
  const jwks = cli("jwks");
  let installed;
  try {
    new Validator({ jwks, issuer: ISS, revocations: list });
    installed = true;
  } catch (e) {
    installed = String(e);
  }
  check("the real list installs in the package", installed === true, String(installed));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
