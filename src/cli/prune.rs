//! `builder prune`: drop build cache (step records and `RUN --mount=type=cache`
//! dirs), all of it or the least recently used beyond `--keep-storage`, then
//! delete blobs and snapshots that no tag and no remaining cache references.
//! Tagged images are never removed. Options follow `docker builder prune`.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::pull::StoreArgs;
use crate::engine::cache;
use crate::store::{CacheKind, CachePolicy};

/// `builder prune` options.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Amount of disk space to keep for cache (e.g. 512MB, 10GB, 1.5GiB;
    /// units are binary as in Docker: 1MB = 1MiB); the least recently used
    /// entries beyond it are removed. 0 or absent: remove all.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub keep_storage: Option<u64>,
    /// Filter values; `until=DURATION` (also `unused-for`) only removes cache
    /// unused for longer than DURATION (e.g. 24h, 30m).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Accepted for Docker compatibility: all build cache here is prunable.
    #[arg(short, long)]
    pub all: bool,
    /// Accepted for Docker compatibility: builder never prompts.
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `builder prune`.
pub fn run(args: PruneArgs) -> Result<i32> {
    let policy = CachePolicy {
        keep_bytes: args.keep_storage.filter(|&n| n > 0),
        unused_for: parse_filters(&args.filter)?,
    };
    // Temp areas of dead builders go now; the rest waits for the GC lock.
    let (store, reclaimed) = args.store.open_store_reclaiming()?;
    let mut r = store.prune_cache(cache::entries, &policy)?;
    crate::engine::incremental::forget_dangling(&store);
    r.gc.temp_removed += reclaimed;
    if !r.removed.is_empty() {
        println!("Deleted build cache objects:");
        for (kind, id) in &r.removed {
            match kind {
                CacheKind::Step => println!("{id}"),
                CacheKind::Mount => println!("{id} (cache mount)"),
            }
        }
        println!();
    }
    if r.kept > 0 {
        println!(
            "Kept {} cache entries using {}",
            r.kept,
            human_size(r.kept_bytes)
        );
    }
    println!(
        "Deleted {} blobs, {} snapshots, {} temp files",
        r.gc.blobs_removed, r.gc.snapshots_removed, r.gc.temp_removed
    );
    println!("Total reclaimed space: {}", human_size(r.bytes_freed));
    Ok(0)
}

/// The `until` duration from `--filter` values; other filter keys are
/// errors rather than silently ignored (they would remove more than asked).
fn parse_filters(filters: &[String]) -> Result<Option<Duration>> {
    let mut until = None;
    for f in filters {
        let Some((key, value)) = f.split_once('=') else {
            bail!("bad --filter {f:?}: expected KEY=VALUE, e.g. until=24h");
        };
        match key {
            "until" | "unused-for" => {
                let nanos = crate::plan::duration::parse_go_duration(value)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("bad --filter {f:?}"))?;
                let Ok(nanos) = u64::try_from(nanos) else {
                    bail!("bad --filter {f:?}: the duration must not be negative");
                };
                until = Some(Duration::from_nanos(nanos));
            }
            _ => bail!("unsupported --filter key {key:?}: builder supports until=DURATION"),
        }
    }
    Ok(until)
}

/// Parses a size as `docker builder prune --keep-storage` does (go-units'
/// `RAMInBytes`): a decimal number, optionally one space, then an optional
/// case-insensitive unit `b`, `k`/`kb`/`kib`, `m`…, `g`…, `t`…, `p`…, all
/// binary (so `1MB` is 1048576 bytes); fractions are truncated.
pub fn parse_size(input: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size: {input:?} (e.g. 512MB, 10GB, 1.5GiB, 1048576)");
    let sep = input
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (num, suffix) = if input.as_bytes()[sep] == b' ' {
        (&input[..sep], &input[sep + 1..])
    } else {
        (&input[..=sep], &input[sep + 1..])
    };
    let value: f64 = num.parse().map_err(|_| invalid())?;
    if !value.is_finite() || value < 0.0 {
        return Err(invalid());
    }
    let suffix = suffix.to_ascii_lowercase();
    let mut chars = suffix.chars();
    let scale: u64 = match chars.next() {
        None => 1,
        Some('b') if suffix.len() == 1 => 1,
        Some(c) => {
            let power = match c {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                'p' => 5,
                _ => return Err(format!("invalid suffix: {suffix:?} in {input:?}")),
            };
            if !matches!(chars.as_str(), "" | "b" | "ib") {
                return Err(format!("invalid suffix: {suffix:?} in {input:?}"));
            }
            1024u64.pow(power)
        }
    };
    let bytes = value * scale as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("size too large: {input:?}"));
    }
    Ok(bytes as u64)
}

/// A size as Docker prints reclaimed space (go-units' `HumanSize`: decimal
/// units, 4 significant digits), e.g. `1.235MB`, `512B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    let int_digits = if size < 10.0 {
        1
    } else if size < 100.0 {
        2
    } else {
        3
    };
    let text = format!("{size:.*}", 4 - int_digits);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker_keep_storage() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1048576", 1 << 20),
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 << 10),
            ("32Kb", 32 << 10),
            ("32KiB", 32 << 10),
            ("512MB", 512 << 20),
            ("512 mb", 512 << 20),
            ("10GB", 10 << 30),
            ("1.5GiB", 3 << 29),
            ("0.5k", 512),
            ("1.7b", 1),
            ("2T", 2 << 40),
            ("1p", 1 << 50),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn bad_sizes_are_errors() {
        for input in [
            "", "MB", "-1", "-5MB", "5x", "5 MBs", "5kbb", "5KB ", " ", "5  MB", "1.2.3k", "5mib2",
            "5bb", "5ki", "1e400",
        ] {
            assert!(parse_size(input).is_err(), "{input:?} accepted");
        }
        let err = parse_size("5x").unwrap_err();
        assert!(err.contains("invalid suffix"), "{err}");
    }

    #[test]
    fn filters() {
        assert_eq!(parse_filters(&[]).unwrap(), None);
        assert_eq!(
            parse_filters(&["until=24h".into()]).unwrap(),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(
            parse_filters(&["unused-for=1h30m".into()]).unwrap(),
            Some(Duration::from_secs(5400))
        );
        for bad in [
            "until=24",
            "until=-1h",
            "until",
            "type=regular",
            "until=abc",
        ] {
            assert!(parse_filters(&[bad.into()]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn human_sizes() {
        for (n, want) in [
            (0, "0B"),
            (512, "512B"),
            (1000, "1kB"),
            (1234567, "1.235MB"),
            (10_000_000, "10MB"),
            (999_499, "999.5kB"),
        ] {
            assert_eq!(human_size(n), want, "{n}");
        }
    }
}
