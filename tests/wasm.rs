//! Rust-side tests of the wasm bindings, run in Node by `wasm-pack test --node`:
//! the exported `Core` and `inspect` with real RFC vectors, options errors and
//! error objects, through the same JsValue boundary the npm package uses.
#![cfg(all(target_arch = "wasm32", feature = "wasm"))]

use js_sys::{Object, Reflect, JSON};
use jwt_edge::wasm::protocol::{DONE, HIT, SIGNATURE, TAG};
use jwt_edge::wasm::{algorithms, inspect, Core};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

// RFC 7515 A.3 (ES256) and RFC 8037 A.4 (EdDSA), from tests/vectors/README.md.
const ES256_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const ES256_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// The options as the glue hands them over: JSON text.
fn options(pairs: &[(&str, JsValue)]) -> String {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    JSON::stringify(&o).unwrap().as_string().unwrap()
}

fn jwks() -> JsValue {
    JsValue::from_str(&format!(r#"{{"keys":[{ES256_JWK}]}}"#))
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

/// The claims of a `DONE` answer (the record's slot 4 is the header's length).
fn claims(core: &Core, text: &str) -> JsValue {
    let split = core.record_values()[4] as usize;
    JSON::parse(&text[split..]).unwrap()
}

fn code(err: &JsValue) -> String {
    get(err, "code").as_string().unwrap()
}

#[wasm_bindgen_test]
fn verify_sync_accepts_rfc7515_a3_before_exp_and_expires_after() {
    let mut core = Core::new(&options(&[("jwks", jwks()), ("issuer", "joe".into())])).unwrap();
    let ok = core
        .verify_sync(ES256_TOKEN, 1_300_819_379.0, false, None)
        .unwrap();
    assert_eq!(core.record_values()[TAG], DONE);
    let claims = claims(&core, &ok.unwrap());
    assert_eq!(get(&claims, "iss").as_string().unwrap(), "joe");
    let err = core
        .verify_sync(ES256_TOKEN, 1_300_819_380.0, false, None)
        .unwrap_err();
    assert_eq!(code(&err), "ERR_JWT_EXPIRED");
    assert_eq!(get(&err, "claim").as_string().unwrap(), "exp");
    assert_eq!(get(&err, "retryable"), JsValue::FALSE);
}

#[wasm_bindgen_test]
fn begin_exposes_the_signature_step_and_finish_completes_it() {
    let mut core = Core::new(&options(&[("jwks", jwks())])).unwrap();
    let at = 1_300_819_379.0;
    assert_eq!(
        core.begin(ES256_TOKEN, at, false, None, None, false)
            .unwrap(),
        None
    );
    let r = core.record_values();
    assert_eq!(r[TAG], SIGNATURE);
    assert_eq!(algorithms().get(r[2] as u32).as_string().unwrap(), "ES256");
    // One candidate; the signing input and signature the host checks.
    assert_eq!(r[3], 1.0);
    let id = r[1] as u32;
    let (input, signature) = core.signature_bytes(id).unwrap();
    assert_eq!(signature.len(), 64);
    assert_eq!(r[7], 64.0);
    assert_eq!(input, ES256_TOKEN.rsplit_once('.').unwrap().0.as_bytes());
    assert_eq!(core.key_serials().len(), 1);
    // This build checks ES256 in Rust (for a key the host cannot use).
    assert!(core.check_key(id, 0).unwrap());
    let jwk = JSON::parse(&core.key_jwk(id, 0).unwrap()).unwrap();
    assert_eq!(get(&jwk, "crv").as_string().unwrap(), "P-256");
    assert_eq!(get(&jwk, "kty").as_string().unwrap(), "EC");
    assert_eq!(get(&jwk, "d"), JsValue::UNDEFINED);
    // A failed host check is a signature failure, and ends the verification...
    let err = core.finish(id, None, at).unwrap_err();
    assert_eq!(code(&err), "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    assert_eq!(
        code(&core.finish(id, Some(0), at).unwrap_err()),
        "ERR_INVALID_OPTIONS"
    );
    // ...a successful one completes the pipeline, even after the key set was
    // replaced by one that still holds the verifying key...
    core.begin(ES256_TOKEN, at, false, None, None, false)
        .unwrap();
    let id = core.record_values()[1] as u32;
    let serial = core.key_serials()[0];
    core.set_jwks(jwks(), None).unwrap();
    let text = core.finish(id, Some(0), at).unwrap();
    assert!(claims(&core, &text).is_object());
    // Now cached: begin answers with the hit directly.
    assert_eq!(
        core.begin(ES256_TOKEN, at, false, None, None, false)
            .unwrap(),
        None
    );
    assert_eq!(core.record_values()[TAG], HIT);
    assert!(core.record_values()[1] > 0.0);
    // A key keeps its number across key-set changes that keep it; a key
    // that left and came back is a new one (its host key is imported again).
    let mut uncached = Core::new(&options(&[("jwks", jwks()), ("cache", 0.into())])).unwrap();
    uncached
        .begin(ES256_TOKEN, at, false, None, None, false)
        .unwrap();
    let first = uncached.key_serials()[0];
    uncached.set_jwks(jwks(), None).unwrap();
    uncached
        .begin(ES256_TOKEN, at, false, None, None, false)
        .unwrap();
    assert_eq!(uncached.key_serials()[0], first);
    uncached
        .set_jwks(JsValue::from_str(r#"{"keys":[]}"#), None)
        .unwrap();
    uncached.set_jwks(jwks(), None).unwrap();
    uncached
        .begin(ES256_TOKEN, at, false, None, None, false)
        .unwrap();
    assert_ne!(uncached.key_serials()[0], first);
    assert_ne!(serial, 0);
    // ...and a key set without the verifying key refuses the token (retryable).
    let mut fresh = Core::new(&options(&[("jwks", jwks())])).unwrap();
    fresh
        .begin(ES256_TOKEN, at, false, None, None, false)
        .unwrap();
    let id = fresh.record_values()[1] as u32;
    fresh
        .set_jwks(JsValue::from_str(r#"{"keys":[]}"#), None)
        .unwrap();
    let err = fresh.finish(id, Some(0), at).unwrap_err();
    assert_eq!(code(&err), "ERR_JWKS_NO_MATCHING_KEY");
    assert_eq!(get(&err, "retryable"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn crypto_wasm_and_rust_mode_finish_in_one_call() {
    let mut core = Core::new(&options(&[("jwks", jwks()), ("crypto", "wasm".into())])).unwrap();
    let done = core
        .begin(ES256_TOKEN, 1_300_819_379.0, false, None, None, false)
        .unwrap();
    assert_eq!(core.record_values()[TAG], DONE);
    assert!(claims(&core, &done.unwrap()).is_object());
    let mut core = Core::new(&options(&[("jwks", jwks())])).unwrap();
    let done = core
        .begin(ES256_TOKEN, 1_300_819_379.0, true, None, None, false)
        .unwrap();
    assert_eq!(core.record_values()[TAG], DONE);
    assert!(claims(&core, &done.unwrap()).is_object());
}

#[wasm_bindgen_test]
fn options_errors_name_the_option() {
    for (opts, name) in [
        (
            options(&[("jwks", jwks()), ("leeway", "1".into())]),
            "leeway",
        ),
        (
            options(&[("jwks", jwks()), ("issuerr", "x".into())]),
            "issuerr",
        ),
        (options(&[("issuer", "x".into())]), "jwks"),
        (
            options(&[("jwks", jwks()), ("kidlessCandidates", 7.into())]),
            "kidlessCandidates",
        ),
    ] {
        let err = Core::new(&opts).err().unwrap();
        assert_eq!(code(&err), "ERR_INVALID_OPTIONS");
        assert!(get(&err, "message").as_string().unwrap().contains(name));
    }
    let err = Core::new(&options(&[("jwks", "{}".into())])).err().unwrap();
    assert_eq!(code(&err), "ERR_JWKS_INVALID");
}

#[wasm_bindgen_test]
fn hostile_input_gets_codes_not_panics() {
    let mut core = Core::new(&options(&[("jwks", jwks())])).unwrap();
    for token in [
        "",
        ".",
        "..",
        "a.b.c",
        &"A.".repeat(10_000),
        "eyJhbGciOiJub25lIn0.e30.",
        "\u{0}\u{ffff}.x.y",
    ] {
        let err = core.verify_sync(token, 0.0, false, None).unwrap_err();
        assert!(code(&err).starts_with("ERR_"), "{token:?}");
    }
    // The instance keeps answering.
    assert!(core
        .verify_sync(ES256_TOKEN, 1_300_819_379.0, false, None)
        .is_ok());
}

#[wasm_bindgen_test]
fn inspect_returns_json_texts_and_warnings() {
    let i = inspect(ES256_TOKEN, 2_000_000_000.0).unwrap();
    let header = JSON::parse(&get(&i, "header").as_string().unwrap()).unwrap();
    assert_eq!(get(&header, "alg").as_string().unwrap(), "ES256");
    let warnings = js_sys::Array::from(&get(&i, "warnings"));
    let codes: Vec<String> = warnings
        .iter()
        .map(|w| get(&w, "code").as_string().unwrap())
        .collect();
    assert!(codes.contains(&"EXPIRED".to_string()), "{codes:?}");
    assert!(codes.contains(&"NO_KID".to_string()), "{codes:?}");
}

#[wasm_bindgen_test]
fn on_fetch_answers_only_for_configured_sources() {
    let mut core = Core::new(&options(&[
        ("jwks", jwks()),
        ("remoteRevocations", Object::new().into()),
    ]))
    .unwrap();
    let body = || Some(b"{}".to_vec());
    // An unknown or unconfigured source number is an options error, never
    // another source's data (0: the JWKS, 2: status list 0, 3: metadata,
    // 5: the JWKS of issuer 1; only 1, the revocation list, is configured).
    assert_eq!(core.sources(), vec![1]);
    for which in [0, 2, 3, 5, u32::MAX] {
        let err = core
            .on_fetch(which, 1.0, 200, None, None, None, body(), None)
            .unwrap_err();
        assert_eq!(code(&err), "ERR_INVALID_OPTIONS", "{which:?}");
    }
    // The configured one takes the outcome (an unsigned list is refused, so
    // nothing is installed).
    assert_eq!(
        core.on_fetch(1, 1.0, 200, None, None, None, body(), None),
        Ok(false)
    );
}
