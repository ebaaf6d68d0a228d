// Host crypto for Node (and runtimes with a compatible node:crypto): the
// synchronous node:crypto verify with a cached KeyObject, which is faster
// than WebCrypto there. Only maps a JWA name to node:crypto parameters.
import { constants, createPublicKey, verify } from "node:crypto";

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };

export const nodeHost = {
  importKey(_alg, jwk) {
    return createPublicKey({ key: jwk, format: "jwk" });
  },
  verify(alg, key, signature, data) {
    const family = alg.slice(0, 2);
    const hash = HASH[alg.slice(2)];
    switch (family) {
      case "ES":
        return verify(hash, data, { key, dsaEncoding: "ieee-p1363" }, signature);
      case "RS":
        return verify(hash, data, key, signature);
      case "PS":
        return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }, signature);
      case "Ed":
      case "ML": // ML-DSA (Node >= 24.6 imports AKP keys; older ones fail the import, and Rust checks)
        return verify(null, data, key, signature);
      default:
        throw new Error(`no host mapping for ${alg}`);
    }
  },
};
