// Types of the jwt-edge npm package (every export condition and `jwt-edge/full`).

/** A JWA signature algorithm name. `none` is not one. */
export type Algorithm =
  | "HS256" | "HS384" | "HS512"
  | "RS256" | "RS384" | "RS512"
  | "PS256" | "PS384" | "PS512"
  | "ES256" | "ES384" | "ES512"
  | "EdDSA";

/** A JSON Web Key Set: an object or its JSON text. */
export type Jwks = { keys: Record<string, unknown>[] } | string;

/** A revocation list: the object, its JSON text, or a signed JWS (`typ: revocation-list+jwt`). */
export type RevocationList =
  | {
      iss: string;
      epoch: number;
      generated_at: number;
      jti?: { jti: string; exp: number }[];
      sub?: { sub: string; before: number }[];
      kid?: string[];
    }
  | string;

export interface ValidatorOptions {
  /** Trusted public keys. `oct` keys are never taken from a JWKS. */
  jwks?: Jwks;
  /** HMAC secret (at least 32 bytes) for HS256/384/512; enables HS* when `algorithms` is not given. */
  secret?: Uint8Array | string;
  /** Accepted issuers (`iss` must equal one exactly). */
  issuer?: string | string[];
  /** Accepted audiences (`aud`, string or array, must contain one). */
  audience?: string | string[];
  /** Required `sub`. */
  subject?: string;
  /** Required header `typ` (RFC 7515 §4.1.9 comparison), e.g. `"at+jwt"`. */
  typ?: string;
  /** Algorithm allowlist; default: every asymmetric algorithm. */
  algorithms?: Algorithm[];
  /** Clock tolerance in seconds (default 0). */
  leeway?: number;
  /** Maximum age from `iat`, in seconds. */
  maxTokenAge?: number;
  /** Claims that must be present. */
  requiredClaims?: string[];
  /** Scopes that must be granted (`scope` string or `scp` array). */
  scopes?: string[];
  /** Revocation list checked after signature and claims. */
  revocations?: RevocationList;
  /** Signature math: host crypto where available (`"auto"`, default), only the host, or only wasm. */
  crypto?: "auto" | "host" | "wasm";
  /** How many keys a token without `kid` may try (1-3, default 1). */
  kidlessCandidates?: number;
}

export interface VerifyOptions {
  /** Current time in unix seconds (default: the host clock). */
  now?: number;
}

export interface VerifiedToken {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

export interface SkippedKey {
  index: number;
  kid?: string;
  message: string;
}

export declare class Validator {
  constructor(options: ValidatorOptions);
  /** Verifies with host crypto where it has the algorithm (async). */
  verify(token: string, options?: VerifyOptions): Promise<VerifiedToken>;
  /** Verifies entirely in Rust (sync); same result as `verify`. */
  verifySync(token: string, options?: VerifyOptions): VerifiedToken;
  setJwks(jwks: Jwks): void;
  setRevocations(list: RevocationList): void;
  /** Keys of the JWKS that were skipped, with the reason. */
  readonly skippedKeys: SkippedKey[];
}

export type ErrorCode =
  | "ERR_JWS_INVALID"
  | "ERR_JWT_INVALID"
  | "ERR_JOSE_ALG_NOT_ALLOWED"
  | "ERR_JOSE_NOT_SUPPORTED"
  | "ERR_JWKS_INVALID"
  | "ERR_JWKS_NO_MATCHING_KEY"
  | "ERR_JWKS_MULTIPLE_MATCHING_KEYS"
  | "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
  | "ERR_JWT_EXPIRED"
  | "ERR_JWT_CLAIM_VALIDATION_FAILED"
  | "ERR_JWT_REVOKED"
  | "ERR_REVOCATION_LIST_INVALID"
  | "ERR_INVALID_OPTIONS";

export declare class JwtEdgeError extends Error {
  readonly name: "JwtEdgeError";
  readonly code: ErrorCode;
  /** For claim errors: the claim concerned. */
  readonly claim?: string;
  /** For claim errors. */
  readonly reason?: "missing" | "check_failed" | "invalid";
  /** For ERR_JWT_REVOKED. */
  readonly revocationReason?: "jti" | "sub" | "kid";
  /** True only when a retry can succeed (e.g. unknown kid before a JWKS refresh). */
  readonly retryable: boolean;
}

export interface Inspection {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  warnings: { code: string; message: string }[];
}

/** Decodes a token WITHOUT verifying it. Never use the result for access decisions. */
export declare function inspect(token: string, options?: VerifyOptions): Inspection;

/** Algorithms this build verifies in pure Rust (the `verifySync` path). */
export declare function rustAlgorithms(): Algorithm[];

/** Which entry of the package was loaded: "node", "deno", "bun", "workerd" or "browser". */
export declare const entry: "node" | "deno" | "bun" | "workerd" | "browser";
