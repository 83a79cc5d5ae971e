//! Runs BuildKit's shell expansion tables (`testdata/buildkit/shell`) through
//! the lexer: every `A`/`U` line of `envVarTest` and every line of `wordsTest`.

use builder::dockerfile::shell::Lexer;
use std::path::Path;

fn table(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/buildkit/shell")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn env_var_test() {
    let env: Vec<(String, String)> = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let lex = Lexer::new('\\');
    let (mut run, mut failures) = (0, Vec::new());
    for (n, line) in table("envVarTest").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '|').collect();
        assert_eq!(parts.len(), 3, "line {}: malformed: {line}", n + 1);
        let (platform, input, expected) = (parts[0].trim(), parts[1].trim(), parts[2].trim());
        if platform != "A" && platform != "U" {
            continue;
        }
        run += 1;
        let got = lex.process_word(input, &env);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(v), e) => v == e,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "line {}: {input:?} expected {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    println!("envVarTest: {} of {run} lines pass", run - failures.len());
    assert!(run >= 200, "only {run} lines ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn words_test() {
    let mut env: Vec<(String, String)> = Vec::new();
    let lex = Lexer::new('\\');
    let (mut run, mut failures) = (0, Vec::new());
    for (n, line) in table("wordsTest").lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let (k, v) = rest
                .trim_start_matches(' ')
                .split_once('=')
                .expect("ENV line has =");
            env.push((k.to_string(), v.to_string()));
            continue;
        }
        let (input, expected) = line.split_once('|').expect("line has |");
        // Trailing spaces of the expected words are significant.
        let (input, expected) = (input.trim(), expected.trim_start_matches(' '));
        run += 1;
        let got = lex.process_words(input, &env);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(words), e) => words.join(",") == e,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "line {}: {input:?} expected {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    println!("wordsTest: {} of {run} lines pass", run - failures.len());
    assert!(run >= 20, "only {run} lines ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
