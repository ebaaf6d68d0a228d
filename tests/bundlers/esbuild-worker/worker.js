// esbuild, worker (bundled with --conditions=worker, and again with
// --conditions=edge-light): the package's worker entry imports the .wasm as a
// module; --loader:.wasm=copy copies it beside the bundle, which workerd (or
// any runtime with wasm module imports) loads.
import { JwtEdgeError, Validator, entry } from "jwt-edge";
import { check } from "../check.js";

export default {
  async fetch(request, env) {
    try {
      return Response.json(await check({ JwtEdgeError, Validator, entry }, JSON.parse(env.FIXTURE)));
    } catch (e) {
      return Response.json({ error: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
