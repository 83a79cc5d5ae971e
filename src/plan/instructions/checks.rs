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

/// Checks an EXPOSE entry: `port[-port][/tcp|udp|sctp]`. The messages are go-connections'
/// `nat.ParsePortSpec` ones (v0.5, as Docker 26.1 prints them: capitalised).
pub(crate) fn check_port(p: &str) -> Result<(), String> {
    let (range, proto) = match p.split_once('/') {
        Some((r, proto)) => (r, proto.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("Invalid proto: {proto}"));
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
            return Err(format!("Invalid ip address: {ip}"));
        }
    }
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let port = |s: &str| s.parse::<u16>().ok();
    match (port(lo), port(hi)) {
        (Some(l), Some(h)) if l <= h => Ok(()),
        _ => Err(format!("Invalid containerPort: {range}")),
    }
}

/// moby/sys/signal's `SignalMap` for Linux (without `SIG`), apart from the real-time ones.
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// Checks a STOPSIGNAL value as moby/sys/signal's `ParseSignal` does: any integer but 0 that
/// Go's `strconv.Atoi` reads (`-1` and `99` pass), or a name of its map, case-insensitive,
/// with or without `SIG`: the standard ones, `RTMIN`, `RTMIN+1`…`RTMIN+15`, `RTMAX-14`…
/// `RTMAX-1`, `RTMAX`. Error text as Docker 26.1 prints it: `invalid signal: VALUE`.
pub(crate) fn check_signal(s: &str) -> Result<(), String> {
    let invalid = || Err(format!("invalid signal: {s}"));
    if let Ok(n) = s.parse::<i64>() {
        return if n != 0 { Ok(()) } else { invalid() };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let offset = |base: &str, sign: char, max: u8| {
        name.strip_prefix(base).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix(sign).is_some_and(|n| {
                    n.bytes().all(|b| b.is_ascii_digit())
                        && !n.starts_with('0')
                        && n.parse::<u8>().is_ok_and(|n| (1..=max).contains(&n))
                })
        })
    };
    if SIGNALS.contains(&name) || offset("RTMIN", '+', 15) || offset("RTMAX", '-', 14) {
        Ok(())
    } else {
        invalid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_as_moby_parses_them() {
        for ok in [
            "99",
            "-1",
            "4294967296",
            "SIGTERM",
            "term",
            "RTMIN+3",
            "sigrtmax-2",
            "RTMAX",
        ] {
            assert_eq!(check_signal(ok), Ok(()), "{ok}");
        }
        for bad in [
            "0",
            "SIGUNUSED",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+16",
            "RTMIN+03",
            "FOO",
        ] {
            assert_eq!(
                check_signal(bad),
                Err(format!("invalid signal: {bad}")),
                "{bad}"
            );
        }
    }

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
