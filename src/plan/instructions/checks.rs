//! Checks of single values shared by the parser (literal values) and the
//! stage evaluator (values known after expansion): EXPOSE ports and
//! STOPSIGNAL names; and the reading of `--chmod` modes.

/// The mode a `--chmod` value sets, as BuildKit 0.13's Dockerfile frontend reads it: the
/// literal flag (no variable expansion) parsed as Go's `strconv.ParseUint(v, 8, 32)`, the
/// permission, setuid, setgid and sticky bits kept (`77777` is `7777`). Anything else (`u+x`,
/// `888`, `$MODE`, empty) is ignored: `None`, the source's mode is kept (recorded with
/// Docker 26.1, which neither fails nor warns).
pub(crate) fn parse_chmod(v: &str) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(v, 8).ok().map(|m| m & 0o7777)
}

/// Checks an EXPOSE entry: `port[-port][/tcp|udp|sctp]`.
pub(crate) fn check_port(p: &str) -> Result<(), String> {
    let (range, proto) = match p.split_once('/') {
        Some((r, proto)) => (r, proto.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    // `[ip:]hostPort:containerPort` is accepted, only the container port
    // exposed (BuildKit's `portSpecs.parsePort`; the ExposeInvalidFormat lint
    // rule warns about it).
    let parts: Vec<&str> = range.split(':').collect();
    let range = parts[parts.len() - 1];
    if parts.len() > 2 {
        let ip = parts[..parts.len() - 2].join(":");
        let bare = ip.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("invalid IP address: {ip}"));
        }
    }
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let port = |s: &str| s.parse::<u16>().ok();
    match (port(lo), port(hi)) {
        (Some(l), Some(h)) if l <= h => Ok(()),
        _ => Err(format!("invalid containerPort: {range}")),
    }
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "UNUSED",
];

/// Checks a STOPSIGNAL value: a number, a name with or without `SIG`, or `RTMIN+n`.
pub(crate) fn check_signal(s: &str) -> Result<(), String> {
    if let Ok(n) = s.parse::<u32>() {
        return if (1..=64).contains(&n) {
            Ok(())
        } else {
            Err(format!("Invalid signal: {s}"))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: &str| {
        name.strip_prefix(base).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(['+', '-'])
                    .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 15))
        })
    };
    if SIGNALS.contains(&name) || rt("RTMIN") || rt("RTMAX") {
        Ok(())
    } else {
        Err(format!("Invalid signal: {s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_chmod;

    #[test]
    fn chmod_as_go_parse_uint_base_8() {
        assert_eq!(parse_chmod("755"), Some(0o755));
        assert_eq!(parse_chmod("0640"), Some(0o640));
        assert_eq!(parse_chmod("77777"), Some(0o7777));
        for ignored in [
            "u+x",
            "888",
            "$M",
            "",
            "+755",
            "0o755",
            "7_55",
            "77777777777777",
        ] {
            assert_eq!(parse_chmod(ignored), None, "{ignored}");
        }
    }
}
