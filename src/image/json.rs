//! JSON bytes exactly as Go's `encoding/json` writes them, so digests match Docker/BuildKit.
//!
//! serde_json already matches Go for structure (no whitespace, `\n`/`\t`/`\u001f`-style
//! escapes); what Go adds is HTML-safe escaping of `<`, `>`, `&` and of U+2028/U+2029. Those
//! characters can only occur inside JSON strings, so a byte-level pass over the output is exact.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// `json.Marshal(v)`: compact, struct fields in declaration order, HTML-escaped.
pub fn to_vec<T: Serialize + ?Sized>(v: &T) -> serde_json::Result<Vec<u8>> {
    Ok(go_escape(serde_json::to_vec(v)?))
}

/// `json.MarshalIndent(v, "", indent)`.
pub fn to_vec_indent<T: Serialize + ?Sized>(v: &T, indent: &str) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)?;
    Ok(go_escape(out))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn go_escape(json: Vec<u8>) -> Vec<u8> {
    let needs = json
        .iter()
        .any(|&b| b == b'<' || b == b'>' || b == b'&' || b == 0xe2);
    if !needs {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
            0xe2 if json.get(i + 1) == Some(&0x80)
                && matches!(json.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                out.extend_from_slice(if json[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = serde_json::json!({"k": "<a & b>\u{2028}\u{2029}\n\u{1}é\"\\"});
        let want = r#"{"k":"\u003ca \u0026 b\u003e\u2028\u2029\n\u0001é\"\\"}"#;
        assert_eq!(String::from_utf8(to_vec(&v).unwrap()).unwrap(), want);
    }

    #[test]
    fn indent_matches_go_marshal_indent() {
        let v = serde_json::json!({"a": [], "b": {}, "c": [1]});
        let out = String::from_utf8(to_vec_indent(&v, "   ").unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n   \"a\": [],\n   \"b\": {},\n   \"c\": [\n      1\n   ]\n}"
        );
    }
}
