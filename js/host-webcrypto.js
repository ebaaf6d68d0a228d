// Host crypto through WebCrypto (workerd, browsers, Deno, Bun): a CryptoKey
// imported once per JWK (the glue caches it). Only maps a JWA name to
// WebCrypto parameters.
function params(alg) {
  const bits = alg.slice(2);
  switch (alg.slice(0, 2)) {
    case "ES":
      return [{ name: "ECDSA", namedCurve: `P-${bits === "512" ? "521" : bits}` }, { name: "ECDSA", hash: `SHA-${bits}` }];
    case "RS":
      return [{ name: "RSASSA-PKCS1-v1_5", hash: `SHA-${bits}` }, { name: "RSASSA-PKCS1-v1_5" }];
    case "PS":
      return [{ name: "RSA-PSS", hash: `SHA-${bits}` }, { name: "RSA-PSS", saltLength: Number(bits) / 8 }];
    case "Ed":
      return [{ name: "Ed25519" }, { name: "Ed25519" }];
    case "ML": // ML-DSA-44/65/87 (RFC 9964): where the host has it (feature-detected by the import)
      return [{ name: alg }, { name: alg }];
    default:
      throw new Error(`no host mapping for ${alg}`);
  }
}

const subtle = globalThis.crypto?.subtle;

export const webCryptoHost = subtle
  ? {
      async importKey(alg, jwk) {
        const [importParams, verifyParams] = params(alg);
        const key = await subtle.importKey("jwk", jwk, importParams, false, ["verify"]);
        return { key, verifyParams };
      },
      verify(_alg, entry, signature, data) {
        return subtle.verify(entry.verifyParams, entry.key, signature, data);
      },
    }
  : null;
