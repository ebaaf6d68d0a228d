// Thin glue around the Rust core (src/wasm/mod.rs). No policy lives here: Rust
// parses the options, selects the algorithm and the candidate keys, checks
// claims and revocation. This file only routes the signature step to the
// host's crypto (or back to Rust) and turns error objects into JwtEdgeError.

/** Error thrown by every jwt-edge API; `code` is a stable ERR_* string. */
export class JwtEdgeError extends Error {
  constructor(init) {
    super(init.message);
    this.name = "JwtEdgeError";
    this.code = init.code;
    if (init.claim !== undefined) this.claim = init.claim;
    if (init.reason !== undefined) this.reason = init.reason;
    if (init.revocationReason !== undefined) this.revocationReason = init.revocationReason;
    this.retryable = init.retryable === true;
  }
}

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

function remoteSource(kind, url, options = {}) {
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new JwtEdgeError({ code: "ERR_INVALID_OPTIONS", message: `${kind}(url): url must be a string or URL`, retryable: false });
  }
  const { minTtl, maxTtl, cooldown, maxStale, timeout, headers, fetch: customFetch, ...rest } = options;
  const unknown = Object.keys(rest);
  if (unknown.length) {
    throw new JwtEdgeError({ code: "ERR_INVALID_OPTIONS", message: `${kind}: unknown option "${unknown[0]}"`, retryable: false });
  }
  return {
    [REMOTE]: kind,
    url: String(url),
    headers: headers ?? {},
    fetch: customFetch,
    // Times are seconds, as everywhere in jwt-edge; the Rust core validates them.
    config: { minTtl, maxTtl, cooldown, maxStale, timeout },
  };
}

/** A JWKS fetched from `url` and kept fresh (see the README for the rules). */
export const remoteJwks = (url, options) => remoteSource("remoteJwks", url, options);
/** A signed revocation list (typ revocation-list+jwt) fetched from `url`. */
export const remoteRevocations = (url, options) => remoteSource("remoteRevocations", url, options);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the public API over an initialised wasm-bindgen module and a host
 * crypto adapter (`null` when the host has none: everything runs in Rust).
 */
export function createApi(wasm, host) {
  class Validator {
    #core;
    #keys = new Map(); // `${alg}/${keyId}` -> imported host key, or null (cleared per generation)
    #keysGeneration = -1;
    #results = new Map(); // cache entry serial -> frozen result
    #sources = {}; // "jwks" / "revocations" -> remote descriptor

    constructor(options) {
      const opts = { ...options };
      for (const [name, which, key] of [["jwks", "jwks", "remoteJwks"], ["revocations", "revocations", "remoteRevocations"]]) {
        const v = opts[name];
        if (v && typeof v === "object" && v[REMOTE]) {
          if (v[REMOTE] !== key) {
            throw new JwtEdgeError({ code: "ERR_INVALID_OPTIONS", message: `option "${name}" needs ${key}(...)`, retryable: false });
          }
          delete opts[name];
          opts[key] = Object.fromEntries(Object.entries(v.config).filter(([, x]) => x !== undefined));
          this.#sources[which] = v;
        }
      }
      this.#core = call(() => new wasm.Core(opts));
    }

    /** Verifies in pure Rust (synchronous); remote sources are used as held. */
    verifySync(token, options) {
      checkToken(token);
      const now = nowOf(options);
      for (const which of Object.keys(this.#sources)) {
        if (!call(() => this.#core.usable(which, now))) throw toError(this.#core.unavailable(which));
      }
      return this.#hitOr(token, now, call(() => this.#core.verifySync(token, now)));
    }

    /** Verifies with the host's crypto where it has the algorithm, else in Rust.
     *  `options.waitUntil` (e.g. `ctx.waitUntil.bind(ctx)` on Workers) keeps a
     *  background refresh alive after the response. */
    async verify(token, options) {
      checkToken(token);
      const now = nowOf(options);
      for (const which of Object.keys(this.#sources)) await this.#ensure(which, now, options?.waitUntil);
      try {
        return await this.#verifyOnce(token, now);
      } catch (e) {
        // Unknown kid with a remote JWKS: one refetch (rate-limited in Rust), then retry.
        if (e?.code === "ERR_JWKS_NO_MATCHING_KEY" && this.#sources.jwks && call(() => this.#core.kidMiss(now))) {
          await this.#fetch("jwks", undefined, now);
          return this.#verifyOnce(token, now);
        }
        throw e;
      }
    }

    async #verifyOnce(token, now) {
      if (host === null) return this.verifySync(token, { now });
      for (let attempt = 0; attempt < 3; attempt++) {
        // One call: a cache hit, a result computed in Rust (HMAC, crypto "wasm"),
        // or the signature step to hand to the host.
        const p = call(() => this.#core.begin(token, now));
        if (p.hit !== undefined) return this.#hitOr(token, now, p);
        if (p.done !== undefined) return this.#result(p.done);
        let by;
        for (let n = 0; n < p.keys.length; n++) {
          if (await this.#check(token, p, n)) {
            by = p.keys[n];
            break;
          }
        }
        const result = call(() => this.#core.finish(token, by, now, p.generation));
        if (result !== undefined) return this.#result(result); // undefined: keys changed meanwhile
      }
      throw new JwtEdgeError({ code: "ERR_JWKS_NO_MATCHING_KEY", message: "the key set kept changing during verification", retryable: true });
    }

    // `{hit: serial}` from Rust: the parsed result kept per entry serial.
    #hitOr(token, now, r) {
      if (r.hit === undefined) return this.#result(r);
      return this.#results.get(r.hit) ?? this.#result(call(() => this.#core.cachedResult(token, now)));
    }

    #result(r) {
      const out = deepFreeze(parsed(r));
      if (r.serial) {
        if (this.#results.size >= 4096) this.#results.clear();
        this.#results.set(r.serial, out);
      }
      return out;
    }

    async #ensure(which, now, waitUntil) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const p = call(() => this.#core.plan(which, now));
        if (p.fetch) {
          const flight = this.#fetch(which, p.ifNoneMatch, now);
          if (p.usable) {
            // Stale-while-revalidate: serve what is held, refresh in the background.
            const done = flight.catch(() => {});
            if (typeof waitUntil === "function") waitUntil(done);
            return;
          }
          await flight;
          if (call(() => this.#core.usable(which, now))) return;
          throw toError(this.#core.unavailable(which));
        }
        if (p.usable) return;
        // Another request is fetching: wait for its result by polling the
        // shared state. No promise or I/O object crosses requests (Workers).
        if (!p.wait || Date.now() > deadline) throw toError(this.#core.unavailable(which));
        await sleep(5);
      }
    }

    async #fetch(which, ifNoneMatch, now) {
      const src = this.#sources[which];
      const headers = { accept: which === "jwks" ? "application/jwk-set+json, application/json" : "application/jwt, text/plain", ...src.headers };
      if (ifNoneMatch) headers["if-none-match"] = ifNoneMatch;
      const timeoutMs = 1000 * (src.config.timeout ?? 5);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      let status = 0;
      let cacheControl, age, etag, body;
      try {
        const res = await (src.fetch ?? fetch)(src.url, { headers, signal: controller.signal, redirect: "manual" });
        status = res.status;
        cacheControl = res.headers.get("cache-control") ?? undefined;
        age = res.headers.get("age") ?? undefined;
        etag = res.headers.get("etag") ?? undefined;
        body = status === 200 ? await res.text() : undefined;
      } catch {
        status = 0; // network error or timeout: stale-if-error applies
      } finally {
        clearTimeout(timer);
      }
      return call(() => this.#core.onFetch(which, now, status, cacheControl, age, etag, body));
    }

    async #check(token, p, n) {
      if (this.#keysGeneration !== p.generation) {
        this.#keys.clear();
        this.#keysGeneration = p.generation;
      }
      const index = p.keys[n];
      const id = `${p.alg}/${p.ids[n]}`;
      let key = this.#keys.get(id);
      if (key === undefined) {
        const jwk = call(() => this.#core.keyJwk(token, index));
        try {
          key = await host.importKey(p.alg, jwk);
        } catch {
          key = null; // the host cannot use this key; other keys are unaffected
        }
        if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.clear();
        this.#keys.set(id, key);
      }
      if (key !== null) return host.verify(p.alg, key, p.signature, p.input);
      if (this.#core.crypto === "host" || !p.rust) {
        throw new JwtEdgeError({
          code: "ERR_JOSE_NOT_SUPPORTED",
          message: `${p.alg}: the host's crypto cannot use this key and ${p.rust ? "crypto is \"host\"" : "this build has no pure-Rust backend for it (use jwt-edge/full)"}`,
          retryable: false,
        });
      }
      return call(() => this.#core.checkKey(token, index));
    }

    /** Replaces the JWKS (an object or JSON text). */
    setJwks(jwks) {
      call(() => this.#core.setJwks(jwks));
    }

    /** Installs a revocation list (object, JSON text, or signed JWS). */
    setRevocations(list) {
      call(() => this.#core.setRevocations(list));
    }

    /** Keys of the JWKS that were skipped, with the reason. */
    get skippedKeys() {
      return call(() => this.#core.issues());
    }

    /** `{hits, misses, size}` of the verified-token cache. */
    get cacheStats() {
      const [hits, misses, size] = this.#core.cacheStats();
      return { hits, misses, size };
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

  return { Validator, inspect, rustAlgorithms: () => wasm.rustAlgorithms(), remoteJwks, remoteRevocations };
}
