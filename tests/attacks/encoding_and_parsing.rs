//! Attack catalog §20–§22: encoding and parsing — duplicate member names and parser
//! differentials, non-canonical base64url, structural malformation.

use super::*;

use jwt_edge::Algorithm;

// ===========================================================================
// §20 Duplicate member names, parser differentials
// ===========================================================================

#[test]
fn a20_duplicate_members_in_header() {
    let key = ec();
    let payload = serde_json::to_string(&good_claims()).unwrap();
    assert_ok(verify_std(&token_raw(
        r#"{"alg":"ES256","kid":"ec-1"}"#,
        &payload,
        &key,
    )));
    for header in [
        r#"{"alg":"ES256","kid":"ec-1","alg":"none"}"#,
        r#"{"alg":"none","alg":"ES256","kid":"ec-1"}"#,
        r#"{"alg":"ES256","kid":"ec-1","alg":"ES256"}"#,
        r#"{"alg":"ES256","kid":"ec-1","\u0061lg":"HS256"}"#,
        r#"{"alg":"ES256","kid":"ec-1","kid":"ec-1"}"#,
        r#"{"alg":"ES256","kid":"ec-1","k\u0069d":"other"}"#,
        r#"{"alg":"ES256","kid":"ec-1","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"ES256","kid":"ec-1","x":{"a":1,"a":2}}"#,
        r#"{"alg":"ES256","kid":"ec-1",}"#,
        r#"{"alg":"ES256","kid":"ec-1"}x"#,
        r#"{"alg":"ES256","kid":"ec-1"} {}"#,
        "\u{feff}{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
        r#"{"alg":"ES256","kid":"ec-1"/*c*/}"#,
        r#"{"alg":"ES256","kid":"ec-1","n":NaN}"#,
        r#"{"alg":"ES256","kid":"ec-1","s":"\ud800"}"#,
        r#"{'alg':'ES256','kid':'ec-1'}"#,
    ] {
        assert_code(verify_std(&token_raw(header, &payload, &key)), JWS_INVALID);
    }
    // Invalid UTF-8 inside a string.
    let mut bad = br#"{"alg":"ES256","kid":"ec-1","x":""#.to_vec();
    bad.extend([0xff, 0xfe]);
    bad.extend(br#""}"#);
    let t = token_from_segments(&b64(&bad), &b64(payload.as_bytes()), &key);
    assert_code(verify_std(&t), JWS_INVALID);
}

#[test]
fn a20_duplicate_members_in_payload() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let body = format!(
        r#""iss":"{ISS}","aud":"{AUD}","exp":{},"jti":"tok-1""#,
        NOW + 3600
    );
    assert_ok(verify_std(&token_raw(
        header,
        &format!(r#"{{"sub":"a",{body}}}"#),
        &key,
    )));
    for payload in [
        format!(r#"{{"sub":"a","sub":"admin",{body}}}"#),
        format!(r#"{{"sub":"a","s\u0075b":"admin",{body}}}"#),
        format!(r#"{{"sub":"a","role":"user","role":"admin",{body}}}"#),
        format!(r#"{{"sub":"a","aud":"x",{body}}}"#),
        format!(r#"{{"sub":"a","exp":1,{body}}}"#),
        format!(r#"{{"sub":"a","cnf":{{"jkt":"a","jkt":"b"}},{body}}}"#),
        format!(r#"{{"sub":"a","l":[{{"x":1,"x":2}}],{body}}}"#),
        format!(r#"{{"sub":"a",{body},}}"#),
        format!(r#"{{"sub":"a",{body}}}xyz"#),
        format!("\u{feff}{{\"sub\":\"a\",{body}}}"),
        format!(r#"{{"sub":"a",{body}}}/*c*/"#),
        format!(r#"{{"sub":"a","n":NaN,{body}}}"#),
        format!(r#"{{"sub":"\ud800",{body}}}"#),
        format!(r#"{{"sub":"a",{body}}}{{"sub":"admin"}}"#),
    ] {
        let t = token_raw(header, &payload, &key);
        assert_code(verify_std(&t), JWT_INVALID);
    }
    // Invalid UTF-8.
    let mut bad = format!(r#"{{"sub":"a",{body},"x":""#).into_bytes();
    bad.extend([0xc3, 0x28]);
    bad.extend(br#""}"#);
    let t = token_from_segments(&b64(header.as_bytes()), &b64(&bad), &key);
    assert_code(verify_std(&t), JWT_INVALID);
}

#[test]
fn a20_json_serialization_is_not_compact() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [h, p, s] = segments(&good);
    for doc in [
        json!({"payload": p, "protected": h, "signature": s}),
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}),
    ] {
        let text = serde_json::to_string(&doc).unwrap();
        assert_code(verify_std(&text), JWS_INVALID);
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        assert_code(verify_std(&pretty), JWS_INVALID);
    }
}

// ===========================================================================
// §21 Non-canonical base64url
// ===========================================================================

const B64_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The segment with its unused trailing bits set (same decoded bytes for a
/// lenient decoder), or `None` if the length leaves no unused bits.
fn nonzero_trailing_bits(seg: &str) -> Option<String> {
    if seg.len() % 4 != 2 && seg.len() % 4 != 3 {
        return None;
    }
    let last = *seg.as_bytes().last().unwrap();
    let v = B64_ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(v & 1, 0, "trailing bits already set");
    let mut out = seg[..seg.len() - 1].to_string();
    out.push(B64_ALPHABET[v | 1] as char);
    Some(out)
}

/// A good ES256 token each of whose segments contains `-` and `_` and has a
/// length ≢ 0 (mod 4), so every non-canonical variant applies to every segment.
fn rich_es256_token() -> String {
    // '?', '~' and '>' at shifting alignments produce the 6-bit groups 62
    // ('-') and 63 ('_').
    let pad = |i: usize| format!("?~>{}?~>{}", "a".repeat(1 + i % 3), "a".repeat(i / 3 % 4));
    let ok = |seg: &str| seg.contains('-') && seg.contains('_') && seg.len() % 4 >= 2;
    let header = (0..64)
        .map(|i| json!({"alg": "ES256", "kid": KID_EC, "pad": pad(i)}))
        .find(|h| ok(&b64_json(h)))
        .expect("no suitable header");
    for i in 0..2000 {
        let mut claims = good_claims();
        claims["pad"] = json!(pad(i % 12));
        claims["n"] = json!(i);
        if !ok(&b64_json(&claims)) {
            continue;
        }
        let t = token(&header, &claims, &ec());
        if ok(&segments(&t)[2]) {
            return t;
        }
    }
    panic!("no suitable token");
}

#[test]
fn a21_non_canonical_base64url_in_every_segment() {
    let good = rich_es256_token();
    assert_ok(verify_std(&good));
    let segs = segments(&good);
    for (i, seg) in segs.iter().enumerate() {
        let mid = seg.len() / 2;
        let mut variants: Vec<(String, String)> = vec![
            ("padding =".into(), format!("{seg}=")),
            ("padding ==".into(), format!("{seg}==")),
            ("+ for -".into(), seg.replacen('-', "+", 1)),
            ("/ for _".into(), seg.replacen('_', "/", 1)),
            ("leading space".into(), format!(" {seg}")),
            ("trailing space".into(), format!("{seg} ")),
            ("trailing newline".into(), format!("{seg}\n")),
        ];
        for junk in [
            " ", "\t", "\n", "\r\n", "=", "+", "/", "?", "#", "\\", "!", "%", "$", "@", "é",
            "\u{0}", "~", "*",
        ] {
            variants.push((
                format!("{junk:?} inserted"),
                format!("{}{junk}{}", &seg[..mid], &seg[mid..]),
            ));
        }
        variants.push((
            "non-zero trailing bits".into(),
            nonzero_trailing_bits(seg).expect("segment has unused bits"),
        ));
        let mut short = seg.clone();
        while short.len() % 4 != 1 {
            short.pop();
        }
        variants.push(("length = 1 mod 4".into(), short));
        for (name, v) in variants {
            assert_ne!(&v, seg);
            let t = with_segment(&good, i, &v);
            let r = verify_std(&t);
            assert_eq!(
                r.as_ref().map_err(jwt_edge::Error::code).err(),
                Some(JWS_INVALID),
                "segment {i}, {name}: {r:?}"
            );
        }
    }
    // Whitespace around the whole token.
    for t in [
        format!(" {good}"),
        format!("{good} "),
        format!("{good}\n"),
        format!("\t{good}"),
        format!("{good}\r\n"),
    ] {
        assert_code(verify_std(&t), JWS_INVALID);
    }
}

#[test]
fn a21_hs256_tag_with_trailing_bits() {
    // 32-byte tag → 43 characters → 2 unused bits (catalog: "…8" vs canonical).
    let good = token_kid(KID_HS, &good_claims(), &hs(Algorithm::HS256));
    assert_ok(verify_std(&good));
    let sig = &segments(&good)[2];
    assert_eq!(sig.len(), 43);
    for bits in 1..4 {
        let last = *sig.as_bytes().last().unwrap();
        let v = B64_ALPHABET.iter().position(|&c| c == last).unwrap();
        let mut s = sig[..42].to_string();
        s.push(B64_ALPHABET[v | bits] as char);
        assert_code(verify_std(&with_segment(&good, 2, &s)), JWS_INVALID);
    }
}

// ===========================================================================
// §22 Structural malformation
// ===========================================================================

#[test]
fn a22_segment_count_and_empty_segments() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [h, p, s] = segments(&good);
    for t in [
        String::new(),
        h.clone(),
        format!("{h}.{p}"),
        format!("{good}.{s}"),
        format!("{good}."),
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}.{p}."),
        ".".into(),
        "..".into(),
        "...".into(),
        "....".into(),
        format!(".{good}"),
    ] {
        assert_code(verify_std(&t), JWS_INVALID);
    }
    // An empty payload segment is a well-formed JWS but never a JWT: with the
    // signature of the original payload it fails the signature check, and
    // signed over the empty payload it fails as a claims set.
    assert_code(verify_std(&format!("{h}..{s}")), SIG_FAILED);
    let empty = token_from_segments(&h, "", &ec());
    assert_code(verify_std(&empty), JWT_INVALID);
}

#[test]
fn a22_header_not_an_object() {
    let key = ec();
    let payload = serde_json::to_string(&good_claims()).unwrap();
    assert_ok(verify_std(&token_raw(
        r#"{"alg":"ES256","kid":"ec-1"}"#,
        &payload,
        &key,
    )));
    for header in [
        "[]",
        "\"x\"",
        "\"ES256\"",
        "null",
        "123",
        "true",
        "{}",
        "",
        " ",
        "[{\"alg\":\"ES256\",\"kid\":\"ec-1\"}]",
    ] {
        assert_code(verify_std(&token_raw(header, &payload, &key)), JWS_INVALID);
    }
    let [_, p, s] = segments(&good_es256());
    for h in ["W10", "IlJTMjU2Ig"] {
        assert_code(verify_std(&format!("{h}.{p}.{s}")), JWS_INVALID);
    }
}

#[test]
fn a22_payload_not_an_object_after_valid_signature() {
    let key = ec();
    let header = r#"{"alg":"ES256","kid":"ec-1"}"#;
    let good = serde_json::to_string(&good_claims()).unwrap();
    assert_ok(verify_std(&token_raw(header, &good, &key)));
    let inner = good_es256();
    for payload in [
        "[]",
        "\"x\"",
        "null",
        "123",
        "true",
        "hello",
        " ",
        "[{\"sub\":\"a\"}]",
        inner.as_str(),
    ] {
        let t = token_raw(header, payload, &key);
        assert_code(verify_std(&t), JWT_INVALID);
        // With a bad signature the claims are never looked at.
        let mut sig = signature_of(&t);
        sig[10] ^= 1;
        assert_code(verify_std(&with_signature(&t, &sig)), SIG_FAILED);
    }
    // A nested JWT (cty: JWT) is not unwrapped.
    let t = token_raw(r#"{"alg":"ES256","kid":"ec-1","cty":"JWT"}"#, &inner, &key);
    assert_code(verify_std(&t), JWT_INVALID);
}

#[test]
fn a22_jwe_and_detached_payload() {
    let good = good_es256();
    assert_ok(verify_std(&good));
    let [h, _, s] = segments(&good);
    // A JWE-shaped token (5 segments).
    let jwe_header = b64_json(&json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": KID_RSA}));
    let jwe = format!(
        "{jwe_header}.{}.{}.{}.{}",
        b64(&[1; 256]),
        b64(&[2; 12]),
        b64(b"ct"),
        b64(&[3; 16])
    );
    assert_code(verify_std(&jwe), JWS_INVALID);
    // Detached payload (RFC 7520 4.5 shape): the signature covers the real
    // payload, which is not supplied; the empty payload never verifies.
    assert_code(verify_std(&format!("{h}..{s}")), SIG_FAILED);
}
