// Cloudflare workerd entry, also for the "worker" and "edge-light" conditions
// (bundlers targeting other edge runtimes): the .wasm is imported as a
// compiled module (no fetch, no top-level await); WebCrypto verifies.
import module from "./wasm/jwt_edge_bg.wasm";
import * as wasm from "./wasm/jwt_edge.js";
import { createApi, JwtEdgeError } from "../lib/api.js";
import { webCryptoHost } from "../lib/host-webcrypto.js";

wasm.initSync({ module });
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations, remoteStatusLists, discover } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "workerd";
