// Cloudflare Workers / workerd: the "workerd" export condition loads the wasm
// as a compiled module; WebCrypto does the math. env.JWKS is the JWKS text.
import { Validator } from "jwt-edge";

let validator; // built once per isolate, reused across requests
export default {
  async fetch(request, env) {
    validator ??= new Validator({ jwks: env.JWKS, issuer: env.ISSUER, audience: env.AUDIENCE });
    const auth = request.headers.get("authorization") ?? "";
    try {
      const { claims } = await validator.verify(auth.replace(/^Bearer /, ""), { now: Number(env.NOW) || undefined });
      return Response.json({ sub: claims.sub });
    } catch (e) {
      return Response.json({ error: e.code }, { status: 401 });
    }
  },
};
