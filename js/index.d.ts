// Types of the jwt-edge npm package (every export condition and `jwt-edge/full`).

/** A JWA signature algorithm name. `none` is not one. ML-DSA (RFC 9964,
 *  `AKP` keys): pure Rust in `jwt-edge/full`; in the default build only where
 *  the host's WebCrypto has it (Deno, Bun, Node >= 24.6), else
 *  `ERR_JOSE_NOT_SUPPORTED`. */
export type Algorithm =
  | "HS256" | "HS384" | "HS512"
  | "RS256" | "RS384" | "RS512"
  | "PS256" | "PS384" | "PS512"
  | "ES256" | "ES384" | "ES512"
  | "EdDSA"
  | "ML-DSA-44" | "ML-DSA-65" | "ML-DSA-87";

/** A JSON Web Key Set: an object or its JSON text. */
export type Jwks = { keys: Record<string, unknown>[] } | string;

/** A revocation list: the object, its JSON text, or a signed JWS (`typ: revocation-list+jwt`). */
/** The entries of a revocation list (the issuer's `revoked` member). */
export interface RevocationEntries {
  /** Single tokens: revoked until their `exp`. */
  jti?: { jti: string; exp: number }[];
  /** Every token of `sub` issued (`iat`) before `before`. */
  sub?: { sub: string; before: number }[];
  /** Signing keys: every token they verified. */
  kid?: string[];
}

/**
 * A revocation list as `jwt-edge serve` (`/revocations`) and `jwt-edge revocations`
 * publish it: JSON text or the parsed object, or the signed compact JWS
 * (`typ: revocation-list+jwt`) as a string.
 */
export type RevocationList =
  | {
      iss: string;
      epoch: number;
      generated_at: number;
      revoked: RevocationEntries;
      jti?: never;
      sub?: never;
      kid?: never;
    }
  | {
      iss: string;
      epoch: number;
      generated_at: number;
      /** @deprecated The first form (the arrays at the top level), still read for one version; one list may not mix the two. */
      jti?: { jti: string; exp: number }[];
      /** @deprecated The first form; use `revoked.sub`. */
      sub?: { sub: string; before: number }[];
      /** @deprecated The first form; use `revoked.kid`. */
      kid?: string[];
      revoked?: never;
    }
  | string;

/** Freshness settings of a remote source, in seconds (defaults in the README). */
export interface RemoteOptions {
  minTtl?: number;
  maxTtl?: number;
  cooldown?: number;
  maxStale?: number;
  timeout?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The fetch function to use (default: the global `fetch`). */
  fetch?: typeof fetch;
}

declare const remoteBrand: unique symbol;
/** A JWKS kept fresh from a URL (see `remoteJwks`). */
export interface RemoteJwks {
  readonly [remoteBrand]: "remoteJwks";
}
/** A JWKS found through the issuer's metadata (see `discover`). */
export interface DiscoveredJwks {
  readonly [remoteBrand]: "discover";
}
/** A signed revocation list kept fresh from a URL (see `remoteRevocations`). */
export interface RemoteRevocations {
  readonly [remoteBrand]: "remoteRevocations";
}
/** Token Status Lists fetched from the URIs tokens name (see `remoteStatusLists`). */
export interface RemoteStatusLists {
  readonly [remoteBrand]: "remoteStatusLists";
}

/** A JWKS fetched from `url` and kept fresh. */
export declare function remoteJwks(url: string | URL, options?: RemoteOptions): RemoteJwks;
/**
 * The JWKS of the issuer `issuerUrl`, located by its metadata: RFC 8414
 * `/.well-known/oauth-authorization-server` (inserted before the issuer's path),
 * else OpenID Connect's `/.well-known/openid-configuration` (appended). The
 * metadata's `issuer` must equal the configured issuer exactly (RFC 8414 §3.3)
 * and its `jwks_uri` must be `https://`. Both documents are kept fresh under
 * these options. Use as `jwks`; `issuerUrl` is also the required `iss`.
 */
export declare function discover(issuerUrl: string | URL, options?: RemoteOptions): DiscoveredJwks;
/** A signed revocation list (`typ: revocation-list+jwt`) fetched from `url`. */
export declare function remoteRevocations(url: string | URL, options?: RemoteOptions): RemoteRevocations;
/**
 * IETF Token Status Lists (`typ: statuslist+jwt`) fetched from the URI each token
 * names in `status.status_list.uri` — only under `statusListPrefixes` (default: the
 * issuer's origin) — and kept fresh under these options. Use as `statusLists`.
 */
export declare function remoteStatusLists(options?: RemoteOptions): RemoteStatusLists;

/** The policy options an entry of `issuers` may override. */
export interface PolicyOptions {
  /** Accepted audiences (`aud`, string or array, must contain one). */
  audience?: string | string[];
  /** Required `sub`. */
  subject?: string;
  /** Required header `typ` (RFC 7515 §4.1.9 comparison), e.g. `"at+jwt"`. */
  typ?: string;
  /** Algorithm allowlist; default: every asymmetric algorithm (HS* need a `secret`). */
  algorithms?: Algorithm[];
  /** Clock tolerance in seconds (default 0). */
  leeway?: number;
  /** Maximum age from `iat`, in seconds. */
  maxTokenAge?: number;
  /** Claims that must be present. */
  requiredClaims?: string[];
  /** Scopes that must be granted (`scope` string or `scp` array). */
  scopes?: string[];
  /** How many keys a token without `kid` may try (1-3, default 1). */
  kidlessCandidates?: number;
  /**
   * Check tokens' `status.status_list` against Token Status Lists (default false):
   * `true` checks against lists given with `setStatusList`; `remoteStatusLists()`
   * (top level only) fetches them.
   */
  statusLists?: boolean | RemoteStatusLists;
  /** Refuse tokens without a `status.status_list` reference (implies `statusLists`). */
  requireStatus?: boolean;
  /** Largest inflated status list accepted, in bytes (default 4 MiB). */
  maxStatusListBytes?: number;
}

/** One trusted issuer of a multi-issuer validator: its tokens' `iss` selects it. */
export interface IssuerOptions extends PolicyOptions {
  /** The exact `iss` of its tokens. */
  issuer: string;
  /** Its public keys, `remoteJwks(url)`, or `discover(issuer)`. */
  jwks?: Jwks | RemoteJwks | DiscoveredJwks;
  /** Its HMAC secret (at least 32 bytes). */
  secret?: Uint8Array | string;
}

export interface ValidatorOptions extends PolicyOptions {
  /** Trusted public keys (an object or JSON text), `remoteJwks(url)`, or `discover(issuer)`. `oct` keys are never taken from a JWKS. */
  jwks?: Jwks | RemoteJwks | DiscoveredJwks;
  /** HMAC secret (at least 32 bytes) for HS256/384/512; enables HS* when `algorithms` is not given. */
  secret?: Uint8Array | string;
  /** Accepted issuers (`iss` must equal one exactly). Not with `issuers`. */
  issuer?: string | string[];
  /** Several trusted issuers, each with its own keys and policy overrides; a
   *  token's `iss` selects one before any key is considered. Not with `jwks`/`secret`/`issuer`. */
  issuers?: IssuerOptions[];
  /** Revocation list checked after signature and claims, or `remoteRevocations(url)`. */
  revocations?: RevocationList | RemoteRevocations;
  /** Signature math: host crypto where available (`"auto"`, default), only the host, or only wasm. */
  crypto?: "auto" | "host" | "wasm";
  /** Verified-token cache entries (default 1000, 0 disables it, at most 1,000,000). */
  cache?: number;
  /** URL prefixes (ending in "/") status lists may be fetched from (default: each issuer's origin). */
  statusListPrefixes?: string[];
  /** Accept DPoP-bound tokens (RFC 9449) in `verifyRequest` and `verify(token, {dpop})`
   *  (`true`: the defaults). Without it, requests present Bearer tokens only. */
  dpop?: boolean | DpopOptions;
}

/** How DPoP is accepted. */
export interface DpopOptions {
  /** Refuse Bearer tokens: every request must be DPoP-bound (default false). */
  required?: boolean;
  /** How old a proof's `iat` may be, in seconds, beside `leeway` (default 60, at most 3600). */
  maxAge?: number;
  /** Algorithms a proof may use (asymmetric only; default all of them). */
  algorithms?: Algorithm[];
  /** Require server nonces (RFC 9449 §9), derived from this secret (at least 32 bytes) and the
   *  time: every isolate with the same secret accepts the nonces any of them hands out. */
  nonceSecret?: string | Uint8Array;
  /** A global replay check (Durable Object, KV, Redis): records `jti` until `expiresAt`
   *  (unix seconds) and answers true when it was not seen before. Called after the in-memory
   *  check of this Validator (per isolate) and only for proofs whose signature verified. */
  replay?: (jti: string, expiresAt: number) => boolean | Promise<boolean>;
  /** `jti`s remembered in memory (default 16384; the ones whose window ends first go first). */
  replayCapacity?: number;
}

/** A DPoP proof and the request it was sent with. */
export interface DpopProof {
  /** The `DPoP` header's value. */
  proof: string;
  /** The request method (`htm`). */
  method: string;
  /** The request URL (`htu`; query and fragment are ignored). */
  url: string | URL;
}

export interface VerifyOptions {
  /** Current time in unix seconds (default: the host clock). */
  now?: number;
  /** Keeps a background refresh alive after the response (e.g. `ctx.waitUntil.bind(ctx)` on Workers). */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** The token was presented with the DPoP scheme and this proof; or `"unchecked"`: accept a
   *  token bound to a key (`cnf.jkt`) without its proof, for non-HTTP uses only. */
  dpop?: DpopProof | "unchecked";
}

/** What `verifyRequest` reads of a request (a fetch `Request` has all of it). */
export interface RequestLike {
  readonly headers: { get(name: string): string | null };
  readonly method: string;
  readonly url: string;
}

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The registered claims, as jose's `JWTPayload`. */
export interface JwtPayload {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  jti?: string;
  nbf?: number;
  exp?: number;
  iat?: number;
  [claim: string]: unknown;
}

/** A verified token (deep-frozen at runtime). `T` is the caller's claims type. */
export interface VerifiedToken<T = JwtPayload> {
  readonly header: DeepReadonly<{ alg: Algorithm; kid?: string; typ?: string; [name: string]: unknown }>;
  readonly claims: DeepReadonly<T & JwtPayload>;
}

export interface SkippedKey {
  index: number;
  kid?: string;
  /** The issuer whose JWKS it was in (multi-issuer form). */
  issuer?: string;
  message: string;
}

export declare class Validator {
  constructor(options: ValidatorOptions);
  /** Verifies with host crypto where it has the algorithm (async); fetches remote sources as needed. */
  verify<T = JwtPayload>(token: string, options?: VerifyOptions): Promise<VerifiedToken<T>>;
  /** Verifies entirely in Rust (sync), with remote sources as held; same result as `verify`. */
  verifySync<T = JwtPayload>(token: string, options?: Omit<VerifyOptions, "waitUntil">): VerifiedToken<T>;
  /**
   * Verifies an HTTP request: its `Authorization` header (Bearer, or DPoP with the `DPoP`
   * proof header), the proof, and the token. A token bound to a key is accepted only with a
   * proof by that key. Errors carry the answer to give: `status`, `wwwAuthenticate`, `dpopNonce`.
   */
  verifyRequest<T = JwtPayload>(request: RequestLike, options?: Omit<VerifyOptions, "dpop">): Promise<VerifiedToken<T>>;
  /** Replaces the JWKS; `index` picks the entry of `issuers` in the multi-issuer form. */
  setJwks(jwks: Jwks, index?: number): void;
  setRevocations(list: RevocationList): void;
  /**
   * Installs an IETF Token Status List (a compact JWS with `typ: statuslist+jwt`)
   * fetched from `uri`; its `sub` must be `uri`. Checked when `statusLists` is on.
   */
  setStatusList(uri: string, jws: string, options?: { now?: number }): void;
  /** Keys of the JWKS that were skipped, with the reason. */
  readonly skippedKeys: SkippedKey[];
  /** Counters of the verified-token cache. */
  readonly cacheStats: { hits: number; misses: number; size: number };
  /** A JSON snapshot of the remote sources (keep it in KV / the Cache API). */
  exportCache(): string;
  /** Restores a snapshot from `exportCache` (verified again before use). */
  importCache(snapshot: string | object): void;
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
  | "ERR_JWKS_TIMEOUT"
  | "ERR_REVOCATIONS_UNAVAILABLE"
  | "ERR_INVALID_OPTIONS"
  | "ERR_STATUS_LIST_INVALID"
  | "ERR_STATUS_LIST_UNAVAILABLE"
  | "ERR_AUTHORIZATION_MISSING"
  | "ERR_AUTHORIZATION_INVALID"
  | "ERR_DPOP_INVALID"
  | "ERR_DPOP_REPLAYED"
  | "ERR_DPOP_NONCE_REQUIRED"
  | "ERR_DPOP_BINDING_MISMATCH"
  | "ERR_DPOP_REQUIRED";

export declare class JwtEdgeError extends Error {
  readonly name: "JwtEdgeError";
  readonly code: ErrorCode;
  /** For claim errors: the claim concerned. */
  readonly claim?: string;
  /** For claim errors. */
  readonly reason?: "missing" | "check_failed" | "invalid";
  /** For ERR_JWT_REVOKED. */
  readonly revocationReason?: "jti" | "sub" | "kid" | "status_list" | "suspended";
  /** True only when a retry can succeed (e.g. unknown kid before a JWKS refresh). */
  readonly retryable: boolean;
  /** Remote-source errors: the source (`jwks`, `jwks:N`, `revocations`, `statuslist:N`). */
  readonly source?: string;
  /** Remote-source errors: the URL fetched, when configured (status lists: see `cause`). */
  readonly url?: string;
  /** From `verifyRequest` (and `verify` with `dpop`): the HTTP status to answer with (400, 401,
   *  403, 500, 503). Otherwise, for remote-source errors: the HTTP status of the last failed fetch. */
  readonly status?: number;
  /** From `verifyRequest`: the exact `WWW-Authenticate` value to answer with (not for 5xx). */
  readonly wwwAuthenticate?: string;
  /** From `verifyRequest`: a `DPoP-Nonce` header value to send (when nonces are in use). */
  readonly dpopNonce?: string;
  /** From `verifyRequest`, for remote-source errors: the HTTP status of the last failed fetch. */
  readonly sourceStatus?: number;
  /** Remote-source errors: what happened (`HTTP 500`, `timeout after 5 s`, `network error: …`, `not fetched yet`). */
  readonly cause?: string;
  /** Remote-source errors: when the last failure happened (unix seconds). */
  readonly failedAt?: number;
  /** Remote-source errors: when the last good copy was fetched (unix seconds), if ever. */
  readonly lastGoodAt?: number;
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

/** Which entry of the package was loaded: "node", "node-require" (CommonJS), "deno", "bun",
 *  "workerd" (also under the "worker" and "edge-light" conditions), "browser", or "inline"
 *  (`jwt-edge/inline`, the .wasm embedded). */
export declare const entry: "node" | "node-require" | "deno" | "bun" | "workerd" | "browser" | "inline";
