// workerd runner: builds a workerd config whose modules are the package files
// reached through the "workerd" export condition (the .wasm imported as a
// compiled module), serves it on loopback with the `workerd` binary from npm,
// asks the test worker to run the suite, prints the results and stops it.
// Usage: node tests/js/run-workerd.mjs
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const work = join(root, "target/js-test/workerd");
const fixtures = resolve(process.env.JWT_EDGE_FIXTURES ?? join(root, "target/js-test/fixtures.json"));
mkdirSync(work, { recursive: true });

const pkg = JSON.parse(readFileSync(join(root, "pkg/package.json"), "utf8"));
const variants = [["default", pkg.exports["."].workerd], ["full", pkg.exports["./full"].workerd]];

function files(dir) {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

// One module per package file of each variant, named by its path under pkg/.
const modules = [];
for (const [, entry] of variants) {
  const variantDir = join(root, "pkg", dirname(entry));
  for (const f of files(variantDir)) {
    const name = relative(root, f);
    const path = relative(work, f);
    if (f.endsWith(".wasm")) modules.push(`(name = "${name}", wasm = embed "${path}")`);
    else if (f.endsWith(".js")) modules.push(`(name = "${name}", esModule = embed "${path}")`);
  }
}
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

const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
const port = await freePort();
const examplePort = await freePort();
const fx = JSON.parse(readFileSync(fixtures, "utf8"));
// The README's worker snippet (examples/npm/worker.js) as its own service;
// "jwt-edge" resolves to the package's workerd entry.
const defaultModules = modules.filter((m) => m.includes('"pkg/default/'));
writeFileSync(
  join(work, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .testWorker), (name = "example", worker = .exampleWorker)],
  sockets = [
    (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
    (name = "example", address = "127.0.0.1:${examplePort}", http = (), service = "example"),
  ],
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
} finally {
  child.kill("SIGTERM");
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
