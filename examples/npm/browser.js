// Browser: decode a token locally, and verify it against a pasted JWKS.
import { Validator, inspect } from "jwt-edge";

export async function check(token, jwksText, now) {
  const { header, claims, warnings } = inspect(token, { now });
  try {
    await new Validator({ jwks: jwksText }).verify(token, { now });
    return { header, claims, warnings, valid: true };
  } catch (e) {
    return { header, claims, warnings, valid: false, code: e.code };
  }
}
