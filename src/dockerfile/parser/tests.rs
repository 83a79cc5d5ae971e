//! Unit tests of the line parser: the fast paths against the grammar.

use super::exec_form::grammar_json;
use super::*;

/// Deterministic pseudo-random strings over the characters that matter to the grammar.
fn samples() -> Vec<String> {
    const ALPHABET: [char; 18] = [
        'a', '=', ' ', '"', '\'', '\t', '\u{a0}', '-', '[', ']', ',', '\\', '`', 'é', '1', '{',
        ':', '\u{3000}',
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::new();
    for i in 0..60_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (seed >> 59) as usize;
        let mut s = String::new();
        let mut x = seed;
        for _ in 0..len {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            s.push(ALPHABET[(x >> 33) as usize % ALPHABET.len()]);
        }
        out.push(match i % 3 {
            0 => format!("--{s}"),
            1 => format!("[{s}"),
            _ => s,
        });
    }
    out.extend(
        [
            "--a --b=c x",
            "-- --x",
            "--a=\"b c\" d",
            "[\"a\", \"b\"]",
            "[ ]",
            "[\"\"]",
        ]
        .map(String::from),
    );
    out
}

#[test]
fn fast_paths_agree_with_the_grammar() {
    for s in samples() {
        let trimmed = s.trim();
        for esc in ['\\', '`'] {
            assert_eq!(
                words(trimmed, esc),
                grammar_words(trimmed, esc),
                "words of {s:?} with escape {esc:?}"
            );
            if trimmed.starts_with("--") && fast::flags(trimmed).is_some() {
                assert_eq!(
                    parse_flags(trimmed, 0, esc),
                    grammar_flags(trimmed, 0, esc),
                    "flags of {s:?}"
                );
            }
        }
        if trimmed.starts_with('[') && fast::json_strings(trimmed).is_some() {
            let fast = try_json(trimmed, 0).ok().flatten();
            let slow = grammar_json(trimmed, 0).ok().flatten();
            assert_eq!(fast, slow, "json of {s:?}");
        }
    }
}
