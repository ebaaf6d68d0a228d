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

/**
 * Builds the public API over an initialised wasm-bindgen module and a host
 * crypto adapter (`null` when the host has none: everything runs in Rust).
 */
export function createApi(wasm, host) {
  class Validator {
    #core;
    #keys = new Map(); // `${generation}/${alg}/${keyId}` -> imported host key, or null
    #keysGeneration = -1;

    constructor(options) {
      this.#core = call(() => new wasm.Core(options));
    }

    /** Verifies in pure Rust (synchronous). */
    verifySync(token, options) {
      checkToken(token);
      return parsed(call(() => this.#core.verifySync(token, nowOf(options))));
    }

    /** Verifies with the host's crypto where it has the algorithm, else in Rust. */
    async verify(token, options) {
      checkToken(token);
      const now = nowOf(options);
      if (host === null || this.#core.crypto === "wasm") return this.verifySync(token, { now });
      for (let attempt = 0; attempt < 3; attempt++) {
        const p = call(() => this.#core.begin(token));
        if (p.hmac) return this.verifySync(token, { now }); // HMAC is always done in Rust
        let by;
        for (let n = 0; n < p.keys.length; n++) {
          if (await this.#check(token, p, n)) {
            by = p.keys[n];
            break;
          }
        }
        const result = call(() => this.#core.finish(token, by, now, p.generation));
        if (result !== undefined) return parsed(result); // undefined: keys changed meanwhile, start again
      }
      throw new JwtEdgeError({ code: "ERR_JWKS_NO_MATCHING_KEY", message: "the key set kept changing during verification", retryable: true });
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
  }

  /** Decodes a token without verifying it: `{header, claims, warnings}`. */
  function inspect(token, options) {
    checkToken(token);
    const r = call(() => wasm.inspect(token, nowOf(options)));
    return { ...parsed(r), warnings: r.warnings };
  }

  return { Validator, inspect, rustAlgorithms: () => wasm.rustAlgorithms() };
}
