//! The SBOM of the build context (`BUILDKIT_SBOM_SCAN_CONTEXT`): BuildKit
//! 0.13's dockerfile frontend hands its scanner the context *as the client
//! sent it* (`dockerfile2llb`: `SBOM.Extras["context"]` is the main
//! context's local source, which carries the `.dockerignore` excludes and
//! the `FollowPaths` of what the build reads). So the scan sees exactly
//! [`BuildContext::sent_files`]: ignored files and, when the build names
//! what it reads, files it never reads are not in it.
//!
//! The sent files are put together under a scratch directory (hard links,
//! or copies across file systems) and scanned there with the image scanner
//! ([`super::predicate`]): every reader (OS databases at fixed paths,
//! lock files, Go binaries) then sees the context as BuildKit's scanner
//! would, with no filter of its own to keep in step. The scratch copy
//! holds only what the build reads anyway (or the whole context when it
//! reads all of it), and only when the scan was asked for.
//!
//! A context given as a tar on stdin is extracted before the build
//! ([`BuildContext::from_tar_in`]) and scanned the same way. builder takes
//! no URL (git, HTTP) contexts, so none is left unscanned.

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::context::BuildContext;

/// The `sbom-context` predicate of `ctx` (document `name`, `created` Unix
/// seconds), staged below `scratch` (removed before returning). Errors:
/// the context cannot be walked, or a file cannot be linked or copied.
pub fn predicate(
    ctx: &BuildContext,
    scratch: &Path,
    name: &str,
    created: i64,
) -> Result<super::super::Predicate> {
    let dir = tempfile::Builder::new()
        .prefix("sbom-context-")
        .tempdir_in(scratch)
        .with_context(|| format!("creating a scratch directory in {}", scratch.display()))?;
    for (rel, abs) in ctx
        .sent_files()
        .context("listing the build context for its SBOM")?
    {
        let to = dir.path().join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // A link costs nothing and keeps the mode (Go binaries are read
        // only when executable); another file system needs a copy.
        if std::fs::hard_link(&abs, &to).is_err() {
            std::fs::copy(&abs, &to)
                .with_context(|| format!("copying {} for the context SBOM", abs.display()))?;
        }
    }
    Ok(super::predicate(dir.path(), name, created, Some("context")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::IgnoreSpec;

    fn purls(p: &crate::attest::Predicate) -> Vec<String> {
        p.body["packages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["externalRefs"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["referenceLocator"].as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn scans_what_dockerignore_and_the_read_paths_leave() {
        let ctx_dir = tempfile::tempdir().unwrap();
        let root = ctx_dir.path();
        let lock =
            |n: &str| format!("version = 3\n\n[[package]]\nname = \"{n}\"\nversion = \"1.0.0\"\n");
        std::fs::create_dir_all(root.join("app")).unwrap();
        std::fs::create_dir_all(root.join("secret")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
        std::fs::write(root.join("app/Cargo.lock"), lock("kept")).unwrap();
        std::fs::write(root.join("secret/Cargo.lock"), lock("ignored")).unwrap();
        std::fs::write(root.join("other/Cargo.lock"), lock("unread")).unwrap();
        std::fs::write(root.join(".dockerignore"), "secret\n").unwrap();
        let mut ctx = BuildContext::from_dir(root, IgnoreSpec::Auto { dockerfile: None }).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let all = purls(&predicate(&ctx, scratch.path(), "c", 0).unwrap());
        assert!(all.contains(&"pkg:cargo/kept@1.0.0".to_string()), "{all:?}");
        assert!(
            all.contains(&"pkg:cargo/unread@1.0.0".to_string()),
            "{all:?}"
        );
        assert!(!all.iter().any(|p| p.contains("ignored")), "{all:?}");
        // The build reads app/ only: the rest is not sent, not scanned.
        ctx.limit_to_read_paths(Some(vec!["/app".into()])).unwrap();
        let read = purls(&predicate(&ctx, scratch.path(), "c", 0).unwrap());
        assert_eq!(read, ["pkg:cargo/kept@1.0.0"]);
        // The scratch copy is gone.
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
