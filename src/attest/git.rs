//! The build context's git checkout, as buildx reports it to BuildKit in
//! `vcs:source`/`vcs:revision` (provenance's `#metadata.vcs`).

use std::collections::BTreeMap;

/// buildx's `vcs:` values for a context directory inside a git checkout:
/// `source` (the `origin` remote, credentials removed), `revision` (HEAD's
/// commit, with `-dirty` left out: builder does not run git), and
/// `localdir:context`/`localdir:dockerfile` relative to the checkout root.
///
/// Reads `.git/HEAD`, loose refs, `packed-refs` and `config` directly: a
/// git library (gix) would pull in a large dependency tree for four small
/// text files. Returns an empty map outside a checkout or on any unreadable
/// part (provenance then simply has no `vcs`).
pub fn git_vcs(
    context: &std::path::Path,
    dockerfile_dir: Option<&std::path::Path>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(ctx) = std::fs::canonicalize(context) else {
        return out;
    };
    let Some(root) = ctx.ancestors().find(|d| d.join(".git").exists()) else {
        return out;
    };
    let git = resolve_git_dir(&root.join(".git"));
    let Some(git) = git else { return out };
    if let Some(rev) = head_commit(&git) {
        out.insert("revision".into(), rev);
    }
    if let Some(url) = origin_url(&git) {
        out.insert("source".into(), redact(&url));
    }
    let rel = |p: &std::path::Path| -> Option<String> {
        let p = std::fs::canonicalize(p).ok()?;
        let r = p.strip_prefix(root).ok()?.to_string_lossy().to_string();
        Some(if r.is_empty() { ".".into() } else { r })
    };
    if let Some(r) = rel(&ctx) {
        out.insert("localdir:context".into(), r);
    }
    if let Some(r) = dockerfile_dir.and_then(rel) {
        out.insert("localdir:dockerfile".into(), r);
    }
    out
}

/// `.git` as a directory, or the `gitdir:` a worktree's `.git` file names.
fn resolve_git_dir(dotgit: &std::path::Path) -> Option<std::path::PathBuf> {
    if dotgit.is_dir() {
        return Some(dotgit.to_path_buf());
    }
    let text = std::fs::read_to_string(dotgit).ok()?;
    let p = text.trim().strip_prefix("gitdir:")?.trim();
    let p = dotgit.parent()?.join(p);
    p.is_dir().then_some(p)
}

/// The common dir of a worktree's git dir (where refs and config live).
fn common_dir(git: &std::path::Path) -> std::path::PathBuf {
    match std::fs::read_to_string(git.join("commondir")) {
        Ok(c) => git.join(c.trim()),
        Err(_) => git.to_path_buf(),
    }
}

fn is_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn head_commit(git: &std::path::Path) -> Option<String> {
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(r) = head.strip_prefix("ref:") else {
        return is_commit(head).then(|| head.to_string());
    };
    let r = r.trim();
    for dir in [git.to_path_buf(), common_dir(git)] {
        if let Ok(c) = std::fs::read_to_string(dir.join(r)) {
            let c = c.trim();
            if is_commit(c) {
                return Some(c.to_string());
            }
        }
    }
    let packed = std::fs::read_to_string(common_dir(git).join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (c, name) = l.split_once(' ')?;
        (name == r && is_commit(c)).then(|| c.to_string())
    })
}

/// `[remote "origin"] url = …` from the git config.
fn origin_url(git: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(common_dir(git).join("config")).ok()?;
    let mut in_origin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_origin = line.replace(' ', "") == "[remote\"origin\"]";
        } else if in_origin {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "url" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// A URL without `user:password@` (BuildKit's `urlutil.RedactCredentials`
/// writes `xxxxx` for them; dropping them says the same with less noise).
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (auth, host) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((_, h)) = auth.rsplit_once('@') {
            return format!("{scheme}://{h}{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact("https://u:tok@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(redact("git@github.com:o/r.git"), "git@github.com:o/r.git");
    }

    #[test]
    fn reads_a_checkout() {
        let d = tempfile::tempdir().unwrap();
        let g = d.path().join(".git");
        std::fs::create_dir_all(g.join("refs/heads")).unwrap();
        std::fs::write(g.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let c = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(
            g.join("packed-refs"),
            format!("# pack\n{c} refs/heads/main\n"),
        )
        .unwrap();
        std::fs::write(
            g.join("config"),
            "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://x:y@example.com/r.git\n",
        )
        .unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let v = git_vcs(&d.path().join("sub"), None);
        assert_eq!(v["revision"], c);
        assert_eq!(v["source"], "https://example.com/r.git");
        assert_eq!(v["localdir:context"], "sub");
    }
}
