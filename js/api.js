// Thin glue around the Rust core (src/wasm/mod.rs). No policy lives here: Rust
// parses the options, selects the algorithm and the candidate keys, checks
// claims and revocation. This file only routes the signature step to the
// host's crypto (or back to Rust) and turns error objects into JwtEdgeError.

// One class for both builds: the default and `full` entries import this one
// file (pkg/lib/api.js). The CommonJS entry has its own copy (lib/api.cjs);
// `instanceof` recognises the errors of every copy by a registered symbol.
const ERROR_BRAND = Symbol.for("jwt-edge.JwtEdgeError");

/** Error thrown by every jwt-edge API; `code` is a stable ERR_* string. */
export class JwtEdgeError extends Error {
  static [Symbol.hasInstance](x) {
    if (this !== JwtEdgeError) return Function.prototype[Symbol.hasInstance].call(this, x);
    return x !== null && typeof x === "object" && x[ERROR_BRAND] === true;
  }

  constructor(init) {
    super(init.message);
    this.name = "JwtEdgeError";
    this.code = init.code;
    if (init.claim !== undefined) this.claim = init.claim;
    if (init.reason !== undefined) this.reason = init.reason;
    if (init.revocationReason !== undefined) this.revocationReason = init.revocationReason;
    // Remote sources (ERR_JWKS_TIMEOUT, ERR_*_UNAVAILABLE): what happened.
    for (const k of ["source", "status", "cause", "failedAt", "lastGoodAt", "url"]) if (init[k] !== undefined) this[k] = init[k];
    this.retryable = init.retryable === true;
  }
}
Object.defineProperty(JwtEdgeError.prototype, ERROR_BRAND, { value: true });

const toError = (e) =>
  e instanceof JwtEdgeError || !(e && typeof e === "object" && typeof e.code === "string" && !(e instanceof Error))
    ? e
    : new JwtEdgeError(e);

function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw toError(e);
  }
}

function nowOf(options) {
  const now = options?.now;
  return now === undefined ? Math.floor(Date.now() / 1000) : now;
}

function checkToken(token) {
  if (typeof token !== "string") {
    throw new JwtEdgeError({ code: "ERR_JWS_INVALID", message: "the token must be a string", retryable: false });
  }
}

const KEY_CACHE_LIMIT = 256;

// Rust hands back the exact JSON texts it validated strictly (no duplicate
// members, bounded depth); JSON.parse turns them into the same objects.
function parsed(r) {
  return { header: JSON.parse(r.header), claims: JSON.parse(r.claims) };
}

function deepFreeze(o) {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

const REMOTE = Symbol.for("jwt-edge.remote");

function invalid(message) {
  return new JwtEdgeError({ code: "ERR_INVALID_OPTIONS", message, retryable: false });
}

function remoteSource(kind, url, options = {}) {
  if (typeof url !== "string" && !(url instanceof URL)) throw invalid(`${kind}(url): url must be a string or URL`);
  const { minTtl, maxTtl, cooldown, maxStale, timeout, headers, fetch: customFetch, ...rest } = options;
  const unknown = Object.keys(rest);
  if (unknown.length) throw invalid(`${kind}: unknown option "${unknown[0]}"`);
  return {
    [REMOTE]: kind,
    url: String(url),
    headers: headers ?? {},
    fetch: customFetch,
    // Times are seconds, as everywhere in jwt-edge; the Rust core validates them.
    config: Object.fromEntries(Object.entries({ minTtl, maxTtl, cooldown, maxStale, timeout }).filter(([, x]) => x !== undefined)),
  };
}

/** A JWKS fetched from `url` and kept fresh (see the README for the rules). */
export const remoteJwks = (url, options) => remoteSource("remoteJwks", url, options);
/** A signed revocation list (typ revocation-list+jwt) fetched from `url`. */
export const remoteRevocations = (url, options) => remoteSource("remoteRevocations", url, options);
/**
 * The JWKS of the issuer `issuerUrl`, found through its metadata: RFC 8414
 * `/.well-known/oauth-authorization-server`, else OpenID Connect's
 * `/.well-known/openid-configuration`; the metadata's `issuer` must equal the
 * configured issuer exactly. Kept fresh like `remoteJwks`.
 */
export const discover = (issuerUrl, options) => remoteSource("discover", issuerUrl, options);
/**
 * IETF Token Status Lists fetched from the URI each token names (only under
 * `statusListPrefixes`, default: the issuer's origin), kept fresh like a JWKS.
 */
export const remoteStatusLists = (options) => remoteSource("remoteStatusLists", "", options);

// Moves a remote descriptor given as `opts[name]` to the option Rust reads
// (`remoteJwks` / `remoteRevocations`: its freshness settings) and records
// where to fetch it under the source's name.
function takeRemote(opts, name, key, sources, sourceName, place = "") {
  const v = opts[name];
  if (!v || typeof v !== "object" || !v[REMOTE]) return;
  const discovered = key === "remoteJwks" && v[REMOTE] === "discover";
  if (v[REMOTE] !== key && !discovered) {
    throw invalid(`option "${place}${name}" needs ${key}(...)${key === "remoteJwks" ? " or discover(...)" : ""}`);
  }
  delete opts[name];
  opts[key] = v.config;
  sources[sourceName] = v;
  if (discovered) {
    // Rust fetches the issuer's metadata first, then the JWKS it names;
    // both use this descriptor's fetch and headers, at URLs Rust gives.
    opts.discover = v.url;
    sources[sourceName.replace("jwks", "metadata")] = v;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the public API over an initialised wasm-bindgen module and a host
 * crypto adapter (`null` when the host has none: everything runs in Rust).
 */
export function createApi(wasm, host) {
  const rustAlgs = new Set(wasm.rustAlgorithms());
  // verifySync's answer must not depend on what `verify` did before. The
  // verified-token cache is shared by both, so a token that host crypto
  // verified for an algorithm this build has no pure-Rust backend for (RSA,
  // PS, ES384/ES512 in the default build) would be served from it. Without
  // that entry, Rust answers ERR_JOSE_NOT_SUPPORTED at the signature step, and
  // everything before that step is the same with or without it (same key set
  // and policy: the cache is dropped when they change). So a cache answer
  // past the signature step - a result, or a claim/expiry error of the
  // re-check - is replaced by that answer. (The same rule in Rust, a cache
  // miss for such entries when signatures must be checked in Rust, would
  // make this unnecessary.)
  const AFTER_SIGNATURE = new Set([
    "ERR_JWT_INVALID",
    "ERR_JWT_EXPIRED",
    "ERR_JWT_CLAIM_VALIDATION_FAILED",
    "ERR_JWT_REVOKED",
    "ERR_STATUS_LIST_INVALID",
    "ERR_STATUS_LIST_UNAVAILABLE",
  ]);
  const noRustBackend = (alg) =>
    new JwtEdgeError({
      code: "ERR_JOSE_NOT_SUPPORTED",
      message: `${alg} has no pure-Rust backend in this build; use host crypto (async verify) or the full build`,
      retryable: false,
    });
  const headerAlg = (token) => {
    try {
      return JSON.parse(wasm.inspect(token, 0).header).alg;
    } catch {
      return undefined;
    }
  };

  class Validator {
    #core;
    #keys = new Map(); // `${alg}/${key id}` -> imported host key, or null
    #results = new Map(); // cache entry serial -> frozen result
    // Repeated tokens: token -> {result, from, until, generation}. Rust computed
    // [from, until) (time claims, policy, source freshness); a repeat inside
    // it, with the validator's generation unchanged, is Rust's own answer.
    #repeats = new Map();
    #repeatLimit;
    #repeatHits = 0;
    #sources = {}; // source name ("jwks", "jwks:N", "metadata", "revocations", ...) -> remote descriptor
    constructor(options) {
      // Translation only: remote descriptors become their settings (Rust
      // validates everything else, including the shape of "issuers").
      const opts = options && typeof options === "object" ? { ...options } : options;
      if (opts && typeof opts === "object") {
        takeRemote(opts, "jwks", "remoteJwks", this.#sources, "jwks");
        takeRemote(opts, "revocations", "remoteRevocations", this.#sources, "revocations");
        takeRemote(opts, "statusLists", "remoteStatusLists", this.#sources, "statuslist");
        if (Array.isArray(opts.issuers)) {
          opts.issuers = opts.issuers.map((entry, i) => {
            if (!entry || typeof entry !== "object") return entry;
            const e = { ...entry };
            takeRemote(e, "jwks", "remoteJwks", this.#sources, `jwks:${i}`, `issuers[${i}].`);
            return e;
          });
        }
      }
      this.#core = call(() => new wasm.Core(opts));
      // Failed fetches back off with jitter (Rust's rule); the seed differs per
      // instance so that isolates that lost a source together do not retry in step.
      this.#core.setJitterSeed(Math.floor(Math.random() * 0x1_0000_0000));
      // Never more repeated tokens than the Rust cache holds (bounded here too,
      // as the map holds parsed results).
      this.#repeatLimit = Math.min(this.#core.cacheCapacity, 4096);
    }

    // A repeat answered without entering wasm, if Rust's bounds allow it.
    #repeat(token, now) {
      const e = this.#repeats.get(token);
      if (e === undefined || !(now >= e.from && now < e.until) || e.generation !== this.#core.generation) return undefined;
      this.#repeatHits++;
      return e.result;
    }

    #remember(token, r, result) {
      if (r.until === undefined || this.#repeatLimit === 0) return;
      if (this.#repeats.size >= this.#repeatLimit) this.#repeats.clear();
      this.#repeats.set(token, { result, from: r.from, until: r.until, generation: this.#core.generation });
    }

    /** Verifies in pure Rust (synchronous); remote sources are used as held. */
    verifySync(token, options) {
      checkToken(token);
      const now = nowOf(options);
      let r;
      try {
        r = this.#repeat(token, now) ?? this.#hitOr(token, now, call(() => this.#core.verifySync(token, now)));
      } catch (e) {
        if (e instanceof JwtEdgeError && AFTER_SIGNATURE.has(e.code)) {
          const alg = headerAlg(token);
          if (typeof alg === "string" && !rustAlgs.has(alg)) throw noRustBackend(alg);
        }
        throw this.#located(e);
      }
      if (!rustAlgs.has(r.header.alg)) throw noRustBackend(r.header.alg);
      return r;
    }

    /** Verifies with the host's crypto where it has the algorithm, else in Rust.
     *  `options.waitUntil` (e.g. `ctx.waitUntil.bind(ctx)` on Workers) keeps a
     *  background refresh alive after the response. */
    async verify(token, options) {
      try {
        return await this.#verify(token, options);
      } catch (e) {
        throw this.#located(e);
      }
    }

    // A remote source's error names the source; the URL is known here.
    #located(e) {
      if (e instanceof JwtEdgeError && e.source !== undefined && e.url === undefined) {
        const src = this.#sources[e.source.startsWith("statuslist:") ? "statuslist" : e.source];
        if (src !== undefined && src.url) e.url = src.url;
      }
      return e;
    }

    async #verify(token, options) {
      checkToken(token);
      const now = nowOf(options);
      const repeat = this.#repeat(token, now);
      if (repeat !== undefined) return repeat;
      const waitUntil = options?.waitUntil;
      let waitingSince;
      const fetched = []; // sources fetched for their freshness during this call
      // Each step is Rust's decision; this loop only performs it. Rust bounds
      // the fetches (single flight, kid-miss cooldown); the only limit kept
      // here is wall-clock time for waiting on another request's fetch,
      // because Rust's clock is the caller's `now`, which does not advance
      // during one call.
      for (;;) {
        // Without host crypto every signature is checked in Rust.
        const s = call(() => this.#core.begin(token, now, host === null, fetched));
        if (s.hit !== undefined) return this.#hitOr(token, now, s);
        if (s.done !== undefined) return this.#result(s.done, token);
        if (s.fetch !== undefined) {
          if (!s.kidMiss) fetched.push(s.fetch);
          const flight = this.#fetch(s.fetch, s.ifNoneMatch, now, s.timeout, s.url);
          if (s.blocking) {
            await flight;
          } else {
            // Stale-while-revalidate: serve what is held, refresh in the background.
            const done = flight.catch(() => {});
            if (typeof waitUntil === "function") waitUntil(done);
          }
          continue;
        }
        if (s.wait !== undefined) {
          waitingSince ??= Date.now();
          if (Date.now() - waitingSince > 1000 * s.timeout) throw toError(this.#core.unavailable(s.wait));
          await sleep(s.pollMs);
          continue;
        }
        return this.#signature(token, s, now);
      }
    }

    // The signature step: the host checks candidates in order; Rust finishes.
    async #signature(token, s, now) {
      let by;
      try {
        for (let n = 0; n < s.keys.length; n++) {
          if (await this.#check(s, n)) {
            by = n;
            break;
          }
        }
      } catch (e) {
        this.#core.abandon(s.id);
        throw toError(e);
      }
      return this.#result(call(() => this.#core.finish(s.id, by, now)), token);
    }

    // `{hit: serial}` from Rust: the parsed result kept per entry serial.
    #hitOr(token, now, r) {
      if (r.hit === undefined) return this.#result(r, token);
      const kept = this.#results.get(r.hit);
      if (kept === undefined) return this.#result(call(() => this.#core.cachedResult(token, now)), token);
      this.#remember(token, r, kept);
      return kept;
    }

    #result(r, token) {
      const out = deepFreeze(parsed(r));
      if (r.serial) {
        if (this.#results.size >= 4096) this.#results.clear();
        this.#results.set(r.serial, out);
        this.#remember(token, r, out);
      }
      return out;
    }

    async #fetch(name, ifNoneMatch, now, timeout, url) {
      // Status lists: one descriptor for all; the URL is the one the token
      // names, which Rust checked against the allowed prefixes. Discovery:
      // Rust gives the metadata URL, then the JWKS URL the metadata names.
      const isStatusList = url !== undefined && name.startsWith("statuslist:");
      const src = isStatusList ? this.#sources.statuslist : this.#sources[name];
      if (src === undefined) throw toError(this.#core.unavailable(name));
      const accept = isStatusList
        ? "application/statuslist+jwt"
        : name === "revocations"
          ? "application/jwt, text/plain"
          : name.startsWith("metadata") ? "application/json" : "application/jwk-set+json, application/json";
      const headers = { accept, ...src.headers };
      if (ifNoneMatch) headers["if-none-match"] = ifNoneMatch;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 1000 * timeout);
      let status = 0;
      let cacheControl, age, etag, body;
      try {
        const res = await (src.fetch ?? fetch)(url ?? src.url, { headers, signal: controller.signal, redirect: "manual" });
        status = res.status;
        cacheControl = res.headers.get("cache-control") ?? undefined;
        age = res.headers.get("age") ?? undefined;
        etag = res.headers.get("etag") ?? undefined;
        // Bytes, then text: workerd warns on .text() for a body whose
        // Content-Type is not text (application/jwt, application/statuslist+jwt).
        body = status === 200 ? new TextDecoder().decode(await res.arrayBuffer()) : undefined;
      } catch (e) {
        status = 0; // network error or timeout: stale-if-error applies
        body = controller.signal.aborted ? `timeout after ${timeout} s` : `network error: ${e?.name ?? "Error"}${e?.message ? ` (${e.message})` : ""}`;
      } finally {
        clearTimeout(timer);
      }
      return call(() => this.#core.onFetch(name, now, status, cacheControl, age, etag, body));
    }

    async #check(s, n) {
      // Key ids are the keys' fingerprints: stable across key-set changes.
      const id = `${s.alg}/${s.keys[n]}`;
      let key = this.#keys.get(id);
      if (key === undefined) {
        const jwk = call(() => this.#core.keyJwk(s.id, n));
        try {
          key = await host.importKey(s.alg, jwk);
        } catch {
          key = null; // the host cannot use this key; other keys are unaffected
        }
        if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.clear();
        this.#keys.set(id, key);
      }
      if (key !== null) return host.verify(s.alg, key, s.signature, s.input);
      // Rust decides whether it may check this key instead.
      return call(() => this.#core.checkKey(s.id, n));
    }

    /** Replaces the JWKS (an object or JSON text); `index` picks the entry
     *  of `issuers` in the multi-issuer form. */
    setJwks(jwks, index) {
      call(() => this.#core.setJwks(jwks, index));
    }

    /** Installs a revocation list (object, JSON text, or signed JWS). */
    setRevocations(list) {
      call(() => this.#core.setRevocations(list));
    }

    /** Installs a Token Status List (a `statuslist+jwt` JWS) fetched from `uri`. */
    setStatusList(uri, jws, options) {
      call(() => this.#core.setStatusList(uri, jws, nowOf(options)));
    }

    /** Keys of the JWKS that were skipped, with the reason. */
    get skippedKeys() {
      return call(() => this.#core.issues());
    }

    /** `{hits, misses, size}` of the verified-token cache. */
    get cacheStats() {
      const [hits, misses, size] = this.#core.cacheStats();
      return { hits: hits + this.#repeatHits, misses, size };
    }

    /** A JSON snapshot of the remote sources (keep it in KV / the Cache API). */
    exportCache() {
      return this.#core.exportCache();
    }

    /** Restores a snapshot from `exportCache` (verified again before use). */
    importCache(snapshot) {
      call(() => this.#core.importCache(typeof snapshot === "string" ? snapshot : JSON.stringify(snapshot)));
    }
  }

  /** Decodes a token without verifying it: `{header, claims, warnings}`. */
  function inspect(token, options) {
    checkToken(token);
    const r = call(() => wasm.inspect(token, nowOf(options)));
    return { ...parsed(r), warnings: r.warnings };
  }

  return { Validator, inspect, rustAlgorithms: () => wasm.rustAlgorithms(), remoteJwks, remoteRevocations, remoteStatusLists, discover };
}
