// Deno entry: reads the .wasm file next to this module; WebCrypto verifies.
import * as wasm from "./wasm/jwt_edge.js";
import { createApi, JwtEdgeError } from "../lib/api.js";
import { webCryptoHost } from "../lib/host-webcrypto.js";

wasm.initSync({ module: await Deno.readFile(new URL("./wasm/jwt_edge_bg.wasm", import.meta.url)) });
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations, remoteStatusLists, discover } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "deno";
