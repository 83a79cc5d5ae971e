//! WORKDIR: the directory is created (owned by USER) as a layer of its own.

use anyhow::{Context as _, Result};

use super::StageRunner;
use crate::engine::copy::mkdir_all;
use crate::engine::overlay::{with_overlays, OverlaySpec};
use crate::plan::Step;
use crate::sandbox;

impl StageRunner<'_> {
    pub(super) fn workdir_step(&mut self, step: &Step, path: &str) -> Result<()> {
        let cfg = &mut self.image.config.config;
        let wd = normalize_workdir(&cfg.working_dir, path);
        cfg.working_dir = wd.clone();
        if wd != "/" {
            self.workdir_layer(&wd).map_err(|e| self.located(step, e))?;
            self.history(format!("WORKDIR {wd}"), true);
        } else {
            self.history(format!("WORKDIR {wd}"), false);
        }
        Ok(())
    }

    fn workdir_layer(&mut self, wd: &str) -> Result<()> {
        let lowers = self.shared.lowers(&self.image)?;
        // BuildKit makes the directory with the USER as a chown (LLB
        // `WithUser`), not as a RUN's user.
        let owner = if self.image.config.config.user.is_empty() {
            (0, 0)
        } else {
            sandbox::chown::resolve_chown(&lowers, &self.image.config.config.user)?
        };
        let dirs = self.step_dirs()?;
        let upper = dirs.path().join("upper");
        std::fs::create_dir(&upper)?;
        let spec = OverlaySpec {
            lowers,
            upper: Some(upper.clone()),
        };
        // The directory is made at the cleaned path (LLB's Mkdir cleans it).
        let path = clean_abs(wd);
        with_overlays(&[spec], dirs.path(), move |roots| {
            let target = crate::engine::fsroot::resolve_in_root(&roots[0], &path, true)?;
            mkdir_all(&target, owner)
        })
        .with_context(|| format!("creating the working directory {wd}"))?;
        self.commit(&upper)
    }
}

/// BuildKit's WORKDIR rule (`system.NormalizeWorkdir`): an absolute path is kept exactly as
/// written (`//a/../b/` stays so in the config and the history), a relative one is joined to
/// the current WORKDIR (`/` when none) and the result cleaned (Go's `path.Join`); an empty one
/// keeps the current WORKDIR.
pub fn normalize_workdir(current: &str, path: &str) -> String {
    let parent = if current.is_empty() { "/" } else { current };
    if path.starts_with('/') {
        path.to_string()
    } else if path.is_empty() {
        if parent.starts_with('/') {
            parent.to_string()
        } else {
            clean_abs(parent)
        }
    } else {
        clean_abs(&format!("{parent}/{path}"))
    }
}

pub(super) fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_rules() {
        assert_eq!(normalize_workdir("/a/b", "../c"), "/a/c");
        assert_eq!(normalize_workdir("", "rel"), "/rel");
        assert_eq!(normalize_workdir("/a", "//x/../y/"), "//x/../y/");
        assert_eq!(normalize_workdir("//x/../y/", "z"), "/y/z");
        assert_eq!(normalize_workdir("/a/./b/", ""), "/a/./b/");
    }
}
