// Browser (and default) entry: fetches the .wasm relative to this module;
// WebCrypto verifies, and Rust does the work where a host lacks it.
import init, * as wasm from "./wasm/jwt_edge.js";
import { createApi, JwtEdgeError } from "../lib/api.js";
import { webCryptoHost } from "../lib/host-webcrypto.js";

const wasmUrl = new URL("./wasm/jwt_edge_bg.wasm", import.meta.url);
try {
  await init({ module_or_path: wasmUrl });
} catch (e) {
  // Most often a bundler that does not emit assets named by
  // `new URL(…, import.meta.url)` (esbuild, Rollup without a plugin): the
  // .wasm is not beside the bundle. Say what to do, not only what failed.
  throw new Error(
    `jwt-edge: could not load its WebAssembly from ${wasmUrl} (${e?.message ?? e}). ` +
      `If a bundler built this page and did not copy the .wasm (esbuild and Rollup do not), ` +
      `import "jwt-edge/inline" instead (the .wasm embedded, nothing to serve), ` +
      `or serve pkg's wasm/jwt_edge_bg.wasm at that URL: see docs/bundlers.md`,
    { cause: e },
  );
}
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations, remoteStatusLists, discover } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "browser";
