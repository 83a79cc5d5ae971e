//! Unit tests of the shell-word lexer.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn word(w: &str, e: &[(&str, &str)]) -> Result<String, ExpandError> {
    Lexer::new('\\').process_word(w, &env(e))
}

#[test]
fn pattern_trims() {
    let e = [("P", "/usr/local/bin/tool.tar.gz")];
    assert_eq!(word("${P#*/}", &e).unwrap(), "usr/local/bin/tool.tar.gz");
    assert_eq!(word("${P##*/}", &e).unwrap(), "tool.tar.gz");
    assert_eq!(word("${P%.*}", &e).unwrap(), "/usr/local/bin/tool.tar");
    assert_eq!(word("${P%%.*}", &e).unwrap(), "/usr/local/bin/tool");
    assert_eq!(
        word("${P#nomatch}", &e).unwrap(),
        "/usr/local/bin/tool.tar.gz"
    );
    assert_eq!(word("${P%\\*}", &e).unwrap(), "/usr/local/bin/tool.tar.gz");
    assert!(word("${P:#x}", &e).is_err());
}

#[test]
fn replacements() {
    let e = [("V", "a.b.c")];
    assert_eq!(word("${V/./-}", &e).unwrap(), "a-b.c");
    assert_eq!(word("${V//./-}", &e).unwrap(), "a-b-c");
    assert_eq!(word("${V//?/x}", &e).unwrap(), "xxxxx");
    assert_eq!(word("${V/\\//x}", &[("V", "a/b")]).unwrap(), "axb");
    assert_eq!(word("${V//./$$}", &e).unwrap(), "abc");
    assert!(word("${V/x", &e).is_err());
}

#[test]
fn error_and_unset_reporting() {
    let err = word("${X:?must be set}", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to process \"${X:?must be set}\": X: must be set"
    );
    let r = Lexer::new('\\')
        .process("$A ${B:-x}", &env(&[("A", "1")]))
        .unwrap();
    assert_eq!(r.matched.iter().collect::<Vec<_>>(), ["A"]);
    assert_eq!(r.unmatched.iter().collect::<Vec<_>>(), ["B"]);
}

#[test]
fn backtick_escape_and_raw_modes() {
    let lex = Lexer::new('`');
    assert_eq!(
        lex.process_word("a`$B c\\d", &env(&[])).unwrap(),
        "a$B c\\d"
    );
    let keep = Lexer::new('\\').keep_quotes(true);
    assert_eq!(
        keep.process_word("'$A' \"$A\"", &env(&[("A", "x")]))
            .unwrap(),
        "'$A' \"x\""
    );
    let heredoc = Lexer::new('\\').skip_quotes(true);
    assert_eq!(
        heredoc
            .process_word("echo '$A'", &env(&[("A", "x")]))
            .unwrap(),
        "echo 'x'"
    );
    let unset = Lexer::new('\\').skip_unset(true);
    assert_eq!(
        unset
            .process_word("$A ${B} ${C:-d}", &env(&[("A", "x")]))
            .unwrap(),
        "x ${B} ${C:-d}"
    );
}

#[test]
fn nested_default_keeps_word_prefix() {
    let words = Lexer::new('\\')
        .process_words("ab${X:-c d} e", &env(&[]))
        .unwrap();
    assert_eq!(words, ["abc", "d", "e"]);
}
