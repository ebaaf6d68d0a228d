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
    // From verifyRequest (and verify with `dpop`): the HTTP answer to give.
    for (const k of ["sourceStatus", "wwwAuthenticate", "dpopNonce"]) if (init[k] !== undefined) this[k] = init[k];
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

// `options.dpop` of verify / verifySync: {proof, method, url}, "unchecked", or undefined.
function dpopOf(options) {
  const d = options?.dpop;
  if (d === undefined || d === null || d === "unchecked") return d ?? undefined;
  if (typeof d !== "object" || typeof d.proof !== "string" || typeof d.method !== "string" || !(typeof d.url === "string" || d.url instanceof URL)) {
    throw new JwtEdgeError({ code: "ERR_INVALID_OPTIONS", message: 'option "dpop" must be {proof, method, url} (strings) or "unchecked"', retryable: false });
  }
  return { proof: d.proof, method: d.method, url: String(d.url) };
}

function checkToken(token) {
  if (typeof token !== "string") {
    throw new JwtEdgeError({ code: "ERR_JWS_INVALID", message: "the token must be a string", retryable: false });
  }
}

const KEY_CACHE_LIMIT = 256;
const utf8 = new TextEncoder();

// The step protocol (src/wasm/mod.rs, `protocol`): each step is written into
// a record of f64 slots in wasm memory, read here through one view.
const PROTOCOL = 1;
const SLOTS = 10;
const GENERATION = 9; // the slot that always holds the core's generation
const DONE = 1, HIT = 2, SIGNATURE = 3, FETCH = 4, WAIT = 5;
// Sources: kind + 4 × issuer (kind 0 JWKS, 1 revocations, 2 status list, 3 metadata).
const ACCEPT = ["application/jwk-set+json, application/json", "application/jwt, text/plain", "application/statuslist+jwt", "application/json"];

// Rust hands back the exact JSON texts it validated strictly (no duplicate
// members, bounded depth), header then claims; JSON.parse turns them into the
// same objects.
function parsed(text, headerLength) {
  return { header: JSON.parse(text.slice(0, headerLength)), claims: JSON.parse(text.slice(headerLength)) };
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
// where to fetch it under the source's number (see ACCEPT), and under its
// name for the URL of errors.
function takeRemote(opts, name, key, sources, source, place = "") {
  const v = opts[name];
  if (!v || typeof v !== "object" || !v[REMOTE]) return;
  const discovered = key === "remoteJwks" && v[REMOTE] === "discover";
  if (v[REMOTE] !== key && !discovered) {
    throw invalid(`option "${place}${name}" needs ${key}(...)${key === "remoteJwks" ? " or discover(...)" : ""}`);
  }
  delete opts[name];
  opts[key] = v.config;
  sources.set(source, v);
  if (discovered) {
    // Rust fetches the issuer's metadata first, then the JWKS it names;
    // both use this descriptor's fetch and headers, at URLs Rust gives.
    opts.discover = v.url;
    sources.set(source + 3, v);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The options as JSON for Rust, marking what JSON cannot say so that Rust
// refuses it as it would the value itself: bytes (a Uint8Array secret), and
// values of no JSON type (functions, symbols, bigints, NaN, infinities).
function optionsJson(opts) {
  try {
    return JSON.stringify(opts ?? null, function (key, v) {
      if (v instanceof Uint8Array) return { "\u0000bytes": Array.from(v) };
      // An object that turned itself into JSON (a URL, a Date) is not the
      // plain value an option takes.
      const raw = this[key];
      if (raw !== v && typeof raw === "object" && raw !== null) return { "\u0000invalid": "object" };
      const t = typeof v;
      if (t === "number") return Number.isFinite(v) ? v : { "\u0000invalid": String(v) };
      if (t === "function" || t === "symbol" || t === "bigint") return { "\u0000invalid": t };
      return v;
    });
  } catch (e) {
    throw invalid(`the options could not be serialised to JSON (${e?.message ?? e})`);
  }
}

/**
 * Builds the public API over an initialised wasm-bindgen module and a host
 * crypto adapter (`null` when the host has none: everything runs in Rust).
 */
export function createApi(wasm, host) {
  if (wasm.protocolVersion() !== PROTOCOL) throw new Error(`jwt-edge: the glue speaks step protocol ${PROTOCOL}, the wasm module ${wasm.protocolVersion()}`);
  const algs = wasm.algorithms();

  class Validator {
    #core;
    #memory; // the wasm memory of the instance this core lives in
    #record; // Float64Array over the core's step record (renewed when memory grows)
    #recordAt;
    #keys = new Map(); // algorithm × 2^32 + key serial -> imported host key, or null
    // Repeated tokens: token -> {result, serial, from, until, generation, rust},
    // added when Rust reports a cache hit. Rust computed [from, until) (time
    // claims, policy, source freshness) and whether the result may answer
    // verifySync; a repeat inside it, with the generation unchanged, is Rust's
    // own answer. A later Rust hit on the same entry (same serial) reuses the
    // parsed result.
    #repeats = new Map();
    #repeatLimit;
    #repeatHits = 0;
    #sources = new Map(); // source number -> remote descriptor
    #replay; // dpop.replay: a global jti check, or undefined
    constructor(options) {
      // Translation only: remote descriptors become their settings (Rust
      // validates everything else, including the shape of "issuers").
      let opts = options && typeof options === "object" ? { ...options } : options;
      if (opts && typeof opts === "object") {
        takeRemote(opts, "jwks", "remoteJwks", this.#sources, 0);
        takeRemote(opts, "revocations", "remoteRevocations", this.#sources, 1);
        takeRemote(opts, "statusLists", "remoteStatusLists", this.#sources, 2);
        if (Array.isArray(opts.issuers)) {
          opts.issuers = opts.issuers.map((entry, i) => {
            if (!entry || typeof entry !== "object") return entry;
            const e = { ...entry };
            takeRemote(e, "jwks", "remoteJwks", this.#sources, 4 * i, `issuers[${i}].`);
            return e;
          });
        }
      }
      // One JSON text, read by Rust's JSON parser (a call per option would
      // make the first construction compile much more: README, cold start).
      let revocations;
      if (opts && typeof opts === "object") ({ revocations, ...opts } = opts);
      // DPoP's replay hook is a function: kept here, Rust learns it exists.
      if (opts?.dpop && typeof opts.dpop === "object") {
        const { replay, ...dpop } = opts.dpop;
        if (replay !== undefined && typeof replay !== "function") throw invalid('option "dpop.replay" must be a function (jti, expiresAt) => boolean | Promise<boolean>');
        this.#replay = replay;
        opts.dpop = dpop;
      }
      this.#core = call(() => new wasm.Core(optionsJson(opts)));
      // Asked per validator: a page that initialises the same glue twice (two
      // entries of one build) has a new instance, with its own memory.
      this.#memory = wasm.wasmMemory();
      // Seeds the retry jitter of failed fetches (Rust's rule; the seed
      // differs per instance so that isolates that lost a source together do
      // not retry in step), and reads where the step record is and (slot 1)
      // how many tokens the Rust cache holds: one call.
      this.#recordAt = this.#core.setup(Math.floor(Math.random() * 0x1_0000_0000));
      this.#repeatLimit = Math.min(this.#rec()[1], 4096);
      if (revocations !== undefined && revocations !== null) this.setRevocations(revocations);
    }

    // The step record, after a call into the core.
    #rec() {
      let r = this.#record;
      const buffer = this.#memory.buffer;
      if (r === undefined || r.buffer !== buffer) r = this.#record = new Float64Array(buffer, this.#recordAt, SLOTS);
      return r;
    }

    // A repeat answered without entering wasm, if Rust's bounds allow it.
    #repeat(token, now, rust) {
      const e = this.#repeats.get(token);
      if (e === undefined || !(now >= e.from && now < e.until) || e.generation !== this.#rec()[GENERATION] || (rust && !e.rust)) return undefined;
      this.#repeatHits++;
      return e.result;
    }

    // The answer of a DONE or HIT record (`text`: a DONE's JSON texts).
    #answer(token, now, text) {
      let r = this.#rec();
      const tag = r[0], serial = r[1], from = r[2], until = r[3], rust = r[5] === 1;
      const kept = this.#repeats.get(token);
      let result;
      if (tag === HIT && kept !== undefined && kept.serial === serial) {
        result = kept.result;
      } else {
        // A hit whose parsed result is not held here: its texts (same entry).
        if (tag === HIT) {
          text = call(() => this.#core.cachedResult(token, now));
          r = this.#rec();
        }
        result = deepFreeze(parsed(text, r[4]));
      }
      // Remembered from the second sighting on (Rust's hit): a first-seen
      // token, the common case at scale, costs no map work here.
      if (tag === HIT && until === until && this.#repeatLimit !== 0) {
        // Oldest out first (a Map keeps insertion order).
        if (kept === undefined && this.#repeats.size >= this.#repeatLimit) this.#repeats.delete(this.#repeats.keys().next().value);
        this.#repeats.set(token, { result, serial, from, until, generation: r[GENERATION], rust });
      }
      return result;
    }

    /** Verifies in pure Rust (synchronous); remote sources are used as held.
     *  `options.dpop`: `{proof, method, url}` (the token was presented with
     *  the DPoP scheme), or "unchecked" to accept a bound token without its proof. */
    verifySync(token, options) {
      checkToken(token);
      const now = nowOf(options);
      const dpop = dpopOf(options);
      try {
        if (dpop !== undefined && dpop !== "unchecked") {
          if (this.#replay !== undefined) throw invalid('verifySync cannot await "dpop.replay": use verify');
          return this.#requestSync(dpop, token, now);
        }
        const repeat = this.#repeat(token, now, true);
        if (repeat !== undefined) return repeat;
        return this.#answer(token, now, call(() => this.#core.verifySync(token, now, dpop === "unchecked")));
      } catch (e) {
        throw this.#located(e);
      }
    }

    /** Verifies an HTTP request (a fetch `Request`, or anything with
     *  `headers.get`, `method` and `url`): its Authorization header (Bearer or
     *  DPoP), its DPoP proof, and the token. Errors carry `status`,
     *  `wwwAuthenticate` and `dpopNonce` to answer with. */
    async verifyRequest(request, options) {
      const headers = request?.headers;
      if (typeof headers?.get !== "function" || typeof request.method !== "string" || typeof request.url !== "string") {
        throw invalid("verifyRequest(request): request must be a Request (headers.get, method, url)");
      }
      const auth = headers.get("authorization") ?? undefined;
      const proof = headers.get("dpop") ?? undefined;
      return this.#request(auth, proof, request.method, request.url, undefined, options);
    }

    // One request: credentials and proof checks (Rust), the token (the
    // usual steps, bound to the proof's key), then the proof's signature and
    // its jti. Every error leaves with the HTTP answer Rust gives for it.
    async #request(auth, proof, method, url, token, options) {
      const core = this.#core;
      const now = nowOf(options);
      // Rust's errors here already carry their answer.
      call(() => core.beginRequest(auth, proof, method, url, now, token));
      const r = this.#rec();
      const id = r[1], scheme = r[2];
      // The token Rust read is the header's last r[3] characters (token68).
      token ??= auth.slice(auth.length - r[3]);
      let result, ok = true, fresh = true;
      try {
        result = await this.#verify(token, now, options, id, false);
        if (core.proofStep(id)) {
          ok = await this.#signature(id, false);
          if (ok && this.#replay !== undefined) {
            const jti = core.proofJti(id);
            fresh = (await this.#replay(jti, this.#rec()[1])) === true;
          }
        }
      } catch (e) {
        core.abandon(id);
        throw this.#answered(toError(e), scheme, now);
      }
      call(() => core.finishProof(id, ok, fresh, now));
      return result;
    }

    // verifySync's request: the same steps, every signature in Rust.
    #requestSync(dpop, token, now) {
      const core = this.#core;
      call(() => core.beginRequest(undefined, dpop.proof, dpop.method, dpop.url, now, token));
      const r = this.#rec();
      const id = r[1], scheme = r[2];
      let result, ok;
      try {
        result = this.#answer(token, now, call(() => core.verifySync(token, now, false, id)));
        ok = core.checkKey(id, 0);
      } catch (e) {
        core.abandon(id);
        throw this.#answered(toError(e), scheme, now);
      }
      call(() => core.finishProof(id, ok, true, now));
      return result;
    }

    // Adds the HTTP answer Rust gives for `e` (a remote source's own HTTP
    // status moves to `sourceStatus`).
    #answered(e, scheme, now) {
      if (!(e instanceof JwtEdgeError)) return e;
      if (e.status !== undefined) e.sourceStatus = e.status;
      const c = this.#core.challenge(scheme, e.code, e.claim, e.message, now);
      e.status = c.status;
      if (c.wwwAuthenticate !== undefined) e.wwwAuthenticate = c.wwwAuthenticate;
      if (c.dpopNonce !== undefined) e.dpopNonce = c.dpopNonce;
      return e;
    }

    // The host's check of the SIGNATURE record's candidates, in order: the
    // one that verified, or undefined (`first`: stop at the first, as a
    // token's; a proof has one candidate, answered as a boolean).
    async #signature(id, candidates) {
      const core = this.#core;
      const r = this.#rec();
      const algNumber = r[2], alg = algs[algNumber], count = r[3];
      const buffer = this.#memory.buffer;
      // Copies: wasm memory may grow (and move) before the host reads them.
      const input = new Uint8Array(buffer, r[4], r[5]).slice();
      const signature = new Uint8Array(buffer, r[6], r[7]).slice();
      const serials = new Uint32Array(buffer, r[8], count).slice();
      for (let n = 0; n < count; n++) {
        if (host === null) {
          if (core.checkKey(id, n)) return candidates ? n : true;
          continue;
        }
        const slot = algNumber * 0x1_0000_0000 + serials[n];
        let key = this.#keys.get(slot);
        if (key === undefined) key = await this.#import(id, alg, slot, n);
        // A key the host cannot use: Rust decides whether it checks it instead.
        const ok = key !== null ? await host.verify(alg, key, signature, input) : core.checkKey(id, n);
        if (ok) return candidates ? n : true;
      }
      return candidates ? undefined : false;
    }

    /** Verifies with the host's crypto where it has the algorithm, else in Rust.
     *  `options.waitUntil` (e.g. `ctx.waitUntil.bind(ctx)` on Workers) keeps a
     *  background refresh alive after the response. `options.dpop`:
     *  `{proof, method, url}` (the token was presented with the DPoP scheme),
     *  or "unchecked" to accept a bound token without its proof. */
    async verify(token, options) {
      checkToken(token);
      const dpop = dpopOf(options);
      if (dpop !== undefined && dpop !== "unchecked") return this.#request(undefined, dpop.proof, dpop.method, dpop.url, token, options);
      try {
        return await this.#verify(token, nowOf(options), options, undefined, dpop === "unchecked");
      } catch (e) {
        throw this.#located(toError(e));
      }
    }

    // The token's steps (`request`: the beginRequest it belongs to, whose
    // proof's key it must be bound to; `unchecked`: no binding check).
    async #verify(token, now, options, request, unchecked) {
      let id; // a signature check handed to the host, until finished
      try {
        // A request's token is bound to its proof, never answered from the
        // map (Rust gives bound tokens no window: none are in it).
        if (request === undefined) {
          const repeat = this.#repeat(token, now, false);
          if (repeat !== undefined) return repeat;
        }
        const core = this.#core;
        let waitingSince;
        let fetched; // sources fetched for their freshness during this call
        // Each step is Rust's decision; this loop only performs it. Rust bounds
        // the fetches (single flight, kid-miss cooldown); the only limit kept
        // here is wall-clock time for waiting on another request's fetch,
        // because Rust's clock is the caller's `now`, which does not advance
        // during one call. One async frame: every await is the host's work.
        for (;;) {
          // Without host crypto every signature is checked in Rust.
          const text = core.begin(token, now, host === null, fetched, request, unchecked);
          const r = this.#rec();
          const tag = r[0];
          if (tag === SIGNATURE) {
            // The host checks the candidates in order; Rust finishes.
            id = r[1];
            const by = await this.#signature(id, true);
            const done = core.finish(id, by, now);
            id = undefined;
            return this.#answer(token, now, done);
          }
          if (tag === DONE || tag === HIT) return this.#answer(token, now, text);
          if (tag === FETCH) {
            const source = r[1], blocking = r[2] === 1, kidMiss = r[3] === 1, timeout = r[4];
            if (!kidMiss) (fetched ??= []).push(source);
            const [ifNoneMatch, url] = core.fetchDetails();
            const flight = this.#fetch(source, ifNoneMatch, now, timeout, url);
            if (blocking) {
              await flight;
            } else {
              // Stale-while-revalidate: serve what is held, refresh in the background.
              const done = flight.catch(() => {});
              const waitUntil = options?.waitUntil;
              if (typeof waitUntil === "function") waitUntil(done);
            }
            continue;
          }
          // WAIT
          waitingSince ??= Date.now();
          if (Date.now() - waitingSince > 1000 * r[3]) throw core.unavailable(r[1]);
          await sleep(r[2]);
        }
      } catch (e) {
        if (id !== undefined) this.#core.abandon(id); // the host's check threw
        throw this.#located(toError(e));
      }
    }

    // A remote source's error names the source; the URL is known here.
    #located(e) {
      if (e instanceof JwtEdgeError && e.source !== undefined && e.url === undefined) {
        const [kind, n] = e.source.split(":");
        const number = { jwks: 0, revocations: 1, statuslist: 2, metadata: 3 }[kind];
        const src = this.#sources.get(number === 2 ? 2 : number + 4 * (Number(n) || 0));
        if (src !== undefined && src.url) e.url = src.url;
      }
      return e;
    }

    // Imports candidate `n`'s key into the host's crypto (null: it cannot use it).
    async #import(id, alg, slot, n) {
      const jwk = JSON.parse(call(() => this.#core.keyJwk(id, n)));
      let key;
      try {
        key = await host.importKey(alg, jwk);
      } catch {
        key = null; // the host cannot use this key; other keys are unaffected
      }
      if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.delete(this.#keys.keys().next().value);
      this.#keys.set(slot, key);
      return key;
    }

    async #fetch(source, ifNoneMatch, now, timeout, url) {
      // Status lists: one descriptor for all; the URL is the one the token
      // names, which Rust checked against the allowed prefixes. Discovery:
      // Rust gives the metadata URL, then the JWKS URL the metadata names.
      const kind = source & 3;
      const src = this.#sources.get(kind === 2 ? 2 : source);
      if (src === undefined) throw toError(this.#core.unavailable(source));
      const headers = { accept: ACCEPT[kind], ...src.headers };
      if (ifNoneMatch) headers["if-none-match"] = ifNoneMatch;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 1000 * timeout);
      let status = 0;
      let cacheControl, age, etag, body, cause;
      try {
        const res = await (src.fetch ?? fetch)(url ?? src.url, { headers, signal: controller.signal, redirect: "manual" });
        status = res.status;
        cacheControl = res.headers.get("cache-control") ?? undefined;
        age = res.headers.get("age") ?? undefined;
        etag = res.headers.get("etag") ?? undefined;
        // Bytes, as Rust takes them (one copy into wasm; and workerd warns on
        // .text() for a body whose Content-Type is not text).
        body = status === 200 ? new Uint8Array(await res.arrayBuffer()) : undefined;
      } catch (e) {
        status = 0; // network error or timeout: stale-if-error applies
        cause = controller.signal.aborted ? `timeout after ${timeout} s` : `network error: ${e?.name ?? "Error"}${e?.message ? ` (${e.message})` : ""}`;
      } finally {
        clearTimeout(timer);
      }
      try {
        return call(() => this.#core.onFetch(source, now, status, cacheControl, age, etag, body, cause));
      } finally {
        // One line when the source starts failing or comes back (Rust's
        // wording), never one per attempt.
        const notice = this.#core.takeNotice();
        if (notice !== undefined) console.warn(notice);
      }
    }

    /** Replaces the JWKS (an object or JSON text); `index` picks the entry
     *  of `issuers` in the multi-issuer form. */
    setJwks(jwks, index) {
      call(() => this.#core.setJwks(jwks, index));
    }

    /** Installs a revocation list (object, JSON text, or signed JWS). */
    setRevocations(list) {
      // Text crosses as UTF-8 bytes (one copy), not as a JS string.
      call(() => this.#core.setRevocations(typeof list === "string" ? utf8.encode(list) : list));
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
    return { header: JSON.parse(r.header), claims: JSON.parse(r.claims), warnings: r.warnings };
  }

  return { Validator, inspect, rustAlgorithms: () => wasm.rustAlgorithms(), remoteJwks, remoteRevocations, remoteStatusLists, discover };
}
