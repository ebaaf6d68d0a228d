// Node: verify a bearer token against a JWKS (node:crypto does the math).
import { JwtEdgeError, Validator } from "jwt-edge";

export function authenticator({ jwks, issuer, audience }) {
  const validator = new Validator({ jwks, issuer, audience, typ: "at+jwt" });
  return async function authenticate(authorization, now) {
    const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : "";
    try {
      const { claims } = await validator.verify(token, { now });
      return { ok: true, sub: claims.sub, scope: claims.scope };
    } catch (e) {
      if (!(e instanceof JwtEdgeError)) throw e;
      return { ok: false, code: e.code, retryable: e.retryable };
    }
  };
}
