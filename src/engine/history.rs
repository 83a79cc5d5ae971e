//! The `created_by` texts BuildKit writes into image history, so that
//! `docker history` of a builder image reads as it would for BuildKit's.

use crate::dockerfile::go_quote;

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_string_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%v` of a `[]string`: `[a b]`.
pub fn go_plain_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `%q` of an integer used as a rune, as `HEALTHCHECK %+v` prints the
/// retries count: `'\x03'`.
pub fn go_quote_rune(n: i64) -> String {
    let body = match n {
        7 => "\\a".to_string(),
        8 => "\\b".to_string(),
        9 => "\\t".to_string(),
        10 => "\\n".to_string(),
        11 => "\\v".to_string(),
        12 => "\\f".to_string(),
        13 => "\\r".to_string(),
        39 => "\\'".to_string(),
        92 => "\\\\".to_string(),
        32..=126 => char::from(n as u8).to_string(),
        0..=127 => format!("\\x{n:02x}"),
        _ => match u32::try_from(n).ok().and_then(char::from_u32) {
            Some(c) if !c.is_control() => c.to_string(),
            _ if (0..=0xffff).contains(&n) => format!("\\u{n:04x}"),
            _ => format!("\\U{:08x}", n as u32),
        },
    };
    format!("'{body}'")
}

/// `EXPOSE` history: Go's `%v` of the port set, a map printed with sorted keys.
pub fn expose(ports: &[String]) -> String {
    let mut sorted: Vec<&String> = ports.iter().collect();
    sorted.sort();
    sorted.dedup();
    let items: Vec<String> = sorted.iter().map(|p| format!("{p}:{{}}")).collect();
    format!("EXPOSE map[{}]", items.join(" "))
}

/// `RUN` history: `|N k=v …` for the stage's ARGs, then the argv.
pub fn run(args: &[(String, String)], argv: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !args.is_empty() {
        parts.push(format!("|{}", args.len()));
        parts.extend(args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    parts.extend(argv.iter().cloned());
    format!("RUN {} # buildkit", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(
            go_string_list(&["a".into(), "b c".into()]),
            r#"["a" "b c"]"#
        );
        assert_eq!(
            go_plain_list(&["/bin/sh".into(), "-c".into()]),
            "[/bin/sh -c]"
        );
        assert_eq!(go_quote_rune(3), r"'\x03'");
        assert_eq!(go_quote_rune(0), r"'\x00'");
        assert_eq!(go_quote_rune(65), "'A'");
        assert_eq!(
            expose(&["80/tcp".into(), "443/tcp".into(), "53/udp".into()]),
            "EXPOSE map[443/tcp:{} 53/udp:{} 80/tcp:{}]"
        );
        assert_eq!(
            run(
                &[("A".into(), "1".into())],
                &["/bin/sh".into(), "-c".into(), "x".into()]
            ),
            "RUN |1 A=1 /bin/sh -c x # buildkit"
        );
    }
}
