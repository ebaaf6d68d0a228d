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

const port = await new Promise((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
writeFileSync(
  join(work, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .testWorker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
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
