// Cloudflare workerd entry: the .wasm is imported as a compiled module (no
// fetch, no top-level await); WebCrypto verifies.
import module from "./wasm/jwt_edge_bg.wasm";
import * as wasm from "./wasm/jwt_edge.js";
import { createApi, JwtEdgeError } from "./api.js";
import { webCryptoHost } from "./host-webcrypto.js";

wasm.initSync({ module });
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "workerd";
