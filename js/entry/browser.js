// Browser (and default) entry: fetches the .wasm relative to this module;
// WebCrypto verifies, and Rust does the work where a host lacks it.
import init, * as wasm from "./wasm/jwt_edge.js";
import { createApi, JwtEdgeError } from "../lib/api.js";
import { webCryptoHost } from "../lib/host-webcrypto.js";

await init({ module_or_path: new URL("./wasm/jwt_edge_bg.wasm", import.meta.url) });
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations, remoteStatusLists, discover } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "browser";
