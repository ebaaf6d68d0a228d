// Writes a workerd config (capnp) that runs examples/edge-worker/worker.js with
// the jwt-edge npm package's "workerd" entry (the .wasm as a compiled module).
//
// CLI:  node examples/edge-worker/config.mjs OUT_DIR LISTEN=127.0.0.1:8787 \
//         ISSUER=https://issuer.example AUDIENCE=https://api.example \
//         JWKS_URL=http://127.0.0.1:8080/.well-known/jwks.json \
//         REVOCATIONS_URL=http://127.0.0.1:8080/revocations ORIGIN_URL=http://127.0.0.1:9000 \
//         'ROUTES=[{"prefix":"/admin","scopes":["write:reports"]}]' \
//         METRICS_PATH=/__jwt-edge/metrics --dataset DECISIONS=jwt_edge_decisions
//       workerd serve OUT_DIR/config.capnp
//       (--build full: jwt-edge/full, which verifies ML-DSA in workerd, whose WebCrypto lacks it)
// API:  workerdConfig({ outDir, pkgDir, build, gateways: [{ name, address, bindings, datasets }] }) -> capnp text
//
// `bindings` are the worker's text bindings (see the list at the top of
// worker.js; objects are written as JSON). `datasets` ({ DECISIONS: "jwt_edge_decisions" },
// CLI `--dataset DECISIONS=jwt_edge_decisions`) are Analytics Engine dataset
// bindings: workerd outside Cloudflare has no Analytics Engine, so each one is a
// wrapped binding over analytics-engine-log.js, a stand-in with the same
// `writeDataPoint` that checks Analytics Engine's limits and prints every point
// as one JSON line ({"event":"analytics_engine.write", ...}). On Cloudflare use
// wrangler's `[[analytics_engine_datasets]]` instead.
//
// The worker reaches the issuer and the origin through a network service; here
// it allows "local" and "private" addresses because the demo and the tests run
// everything on loopback. In production use ["public"] (the default of workerd's
// internet service) or a service binding.
import { readdirSync, readFileSync, statSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

function files(dir) {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

// The stand-in's module name (an internal extension module: only wrapped bindings can import it).
const DATASET_MODULE = "jwt-edge-example:analytics-engine-log";

export function workerdConfig({ outDir, pkgDir = join(root, "pkg"), build = "default", gateways, allow = ["local", "private"] }) {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  // The default build, or jwt-edge/full (every algorithm in Rust, ML-DSA included).
  const entry = pkg.exports[build === "full" ? "./full" : "."].workerd.replace("./", ""); // e.g. default/workerd.js
  const modules = [];
  // The build's files and the glue shared by both builds (lib/); not the
  // inline entry's base64 copy of the wasm.
  for (const f of [...files(join(pkgDir, dirname(entry))), ...files(join(pkgDir, "lib"))]) {
    const name = `pkg/${relative(pkgDir, f)}`;
    const path = relative(outDir, f);
    if (f.endsWith(".wasm")) modules.push(`(name = ${JSON.stringify(name)}, wasm = embed ${JSON.stringify(path)})`);
    else if (f.endsWith(".js") && !f.endsWith(".base64.js")) modules.push(`(name = ${JSON.stringify(name)}, esModule = embed ${JSON.stringify(path)})`);
  }
  const worker = relative(outDir, join(here, "worker.js"));
  const standIn = relative(outDir, join(here, "analytics-engine-log.js"));
  const datasetBindings = (g) =>
    Object.entries(g.datasets ?? {}).map(
      ([k, dataset]) =>
        `    (name = ${JSON.stringify(k)}, wrapped = (moduleName = ${JSON.stringify(DATASET_MODULE)}, innerBindings = [(name = "dataset", text = ${JSON.stringify(dataset)})])),`,
    );
  const extensions = gateways.some((g) => Object.keys(g.datasets ?? {}).length > 0)
    ? `  extensions = [(modules = [(name = ${JSON.stringify(DATASET_MODULE)}, internal = true, esModule = embed ${JSON.stringify(standIn)})])],\n`
    : "";
  const services = gateways.map((g) => `    (name = ${JSON.stringify(g.name)}, worker = .${g.name}),`).join("\n");
  const sockets = gateways
    .map((g) => `    (name = ${JSON.stringify(g.name)}, address = ${JSON.stringify(g.address)}, http = (), service = ${JSON.stringify(g.name)}),`)
    .join("\n");
  const workers = gateways
    .map(
      (g) => `const ${g.name} :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed ${JSON.stringify(worker)}),
    (name = "jwt-edge", esModule = "export * from './pkg/${entry}';"),
    ${modules.join(",\n    ")}
  ],
  bindings = [
${Object.entries(g.bindings)
  .filter(([, v]) => v !== undefined)
  .map(([k, v]) => `    (name = ${JSON.stringify(k)}, text = ${JSON.stringify(typeof v === "string" ? v : JSON.stringify(v))}),`)
  .concat(datasetBindings(g))
  .join("\n")}
  ],
  globalOutbound = "outbound",
  compatibilityDate = "2025-09-01",
);`,
    )
    .join("\n");
  return `# Generated by examples/edge-worker/config.mjs
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
${services}
    (name = "outbound", network = (allow = ${JSON.stringify(allow)})),
  ],
  sockets = [
${sockets}
  ],
${extensions});
${workers}
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [outArg, ...pairs] = process.argv.slice(2);
  if (!outArg) {
    console.error("usage: node examples/edge-worker/config.mjs OUT_DIR LISTEN=host:port ISSUER=... AUDIENCE=... JWKS_URL=... [REVOCATIONS_URL=...] ORIGIN_URL=... [ROUTES=json] ... [--dataset DECISIONS=name] [--build default|full]");
    process.exit(2);
  }
  const outDir = resolve(outArg);
  const datasets = {};
  const texts = [];
  let build = "default";
  for (let i = 0; i < pairs.length; i++) {
    if (pairs[i] === "--build") {
      build = pairs[++i];
      if (build !== "default" && build !== "full") {
        console.error("--build is default or full");
        process.exit(2);
      }
    } else if (pairs[i] === "--dataset") {
      const p = pairs[++i] ?? "";
      datasets[p.slice(0, p.indexOf("="))] = p.slice(p.indexOf("=") + 1);
    } else texts.push(pairs[i]);
  }
  const bindings = Object.fromEntries(texts.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
  const address = bindings.LISTEN ?? "127.0.0.1:8787";
  delete bindings.LISTEN;
  for (const k of ["ISSUER", "AUDIENCE", "JWKS_URL", "ORIGIN_URL"]) {
    if (!bindings[k]) {
      console.error(`missing ${k}=...`);
      process.exit(2);
    }
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "config.capnp"), workerdConfig({ outDir, build, gateways: [{ name: "gateway", address, bindings, datasets }] }));
  console.log(join(outDir, "config.capnp"));
}
