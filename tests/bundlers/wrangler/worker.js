// wrangler (deploy --dry-run --outdir): its bundler resolves the "workerd"
// condition, and the .wasm import becomes a module of the upload.
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
