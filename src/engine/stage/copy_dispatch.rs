//! COPY and ADD: the direct path (layer written straight from the sources,
//! `engine/direct_copy.rs`) when the shape allows, else the overlay path
//! (sources placed into a writable overlay, its upper dir committed).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::workdir::clean_abs;
use super::{is_url, StageRunner};
use crate::context::{BuildContext, SelectOptions};
use crate::engine::copy::CopyOptions;
use crate::engine::overlay::{with_overlays, OverlaySpec};
use crate::engine::overlay_copy::Placement;
use crate::plan::instructions::Copy;
use crate::plan::{Evaluated, Step};
use crate::sandbox;

impl StageRunner<'_> {
    pub(super) fn copy_step(&mut self, step: &Step, c: &Copy, ev: &Evaluated) -> Result<()> {
        self.copy(c, ev).map_err(|e| self.located(step, e))?;
        let mut msg = String::from(if c.add { "ADD" } else { "COPY" });
        if c.parents {
            msg.push_str(" --parents");
        }
        // An empty flag value is no flag at all, in the history as in the copy (BuildKit's
        // dispatchCopy writes only non-empty ones).
        if let Some(o) = c.chown.as_deref().filter(|o| !o.is_empty()) {
            msg.push_str(&format!(" --chown={o}"));
        }
        if let Some(m) = c.chmod.as_deref().filter(|m| !m.is_empty()) {
            msg.push_str(&format!(" --chmod={m}"));
        }
        for s in &c.sources {
            msg.push(' ');
            msg.push_str(s);
        }
        for f in &c.inline {
            msg.push_str(&format!(" <<{}", f.name));
        }
        msg.push_str(&format!(" {} # buildkit", c.dest));
        self.history(msg, true);
        Ok(())
    }

    fn copy(&mut self, c: &Copy, ev: &Evaluated) -> Result<()> {
        let lowers = self.shared.lowers(&self.image)?;
        let owner = match c.chown.as_deref().filter(|s| !s.is_empty()) {
            Some(spec) => Some(sandbox::chown::resolve_chown(&lowers, spec)?),
            None => None,
        };
        let wd = &self.image.config.config.working_dir;
        let dest = dest_relative_to_workdir(wd, &c.dest);

        // Where the sources come from.
        let (source_lowers, preserve_owner) = match &c.from {
            Some(_) => {
                let from = self.stage_source(c)?;
                (Some(self.shared.lowers(&from)?), true)
            }
            None => (None, false),
        };
        let opts = CopyOptions {
            owner,
            mode: ev.chmod,
            preserve_owner,
        };
        let dirs = self.step_dirs()?;
        let select = SelectOptions {
            excludes: c.excludes.clone(),
            parents: c.parents,
        };
        // Files from the context or a stage: the layer is written straight
        // from them when the copy's shape allows (see `direct_copy`).
        let direct = crate::engine::direct_copy::enabled()
            && !c.add
            && !c.parents
            && c.inline.is_empty()
            && !c.sources.iter().any(|s| is_url(s));
        if direct {
            let (context, sources, store, epoch) = (
                self.context,
                &c.sources,
                &self.shared.store,
                self.shared.epoch,
            );
            // The walk the cache key made, if this step made one (see `take_resolved`).
            let keyed = std::sync::Mutex::new(self.take_resolved(sources, &select));
            let select_from = |src_root: Option<&Path>| -> Result<_> {
                Ok(match src_root {
                    Some(root) => {
                        BuildContext::stage_root(root)?.resolve_sources(sources, &select)?
                    }
                    None => match keyed.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        Some(resolved) => resolved,
                        None => context.resolve_sources(sources, &select)?,
                    },
                })
            };
            let family = self.family.as_ref().map(|(f, _)| f.as_str());
            let previous =
                family.and_then(|f| crate::engine::incremental::previous_layer(store, f));
            let layer = crate::engine::direct_copy::copy_layer(
                &lowers,
                source_lowers.as_deref(),
                dirs.path(),
                select_from,
                &dest,
                &opts,
                now_secs(),
                |entries| {
                    crate::engine::commit::commit_planned(store, entries, epoch, previous.as_ref())
                },
            )?;
            if let Some((layer, taken)) = layer {
                if let (Some(taken), Some((_, id))) = (taken, &self.family) {
                    self.shared.progress.log(*id, taken.to_string());
                }
                if let Some(f) = family {
                    // Best effort: without it the next change reads every source.
                    let _ = crate::engine::incremental::remember_written(store, f, &layer.diff_id);
                }
                self.image.push_layer(layer);
                return Ok(());
            }
        }
        let upper = dirs.path().join("upper");
        std::fs::create_dir(&upper)?;

        // Downloads happen before mounting (they are async).
        let mut downloads = Vec::new();
        let mut local_sources = Vec::new();
        for s in &c.sources {
            if is_url(s) {
                if !c.add {
                    bail!("source can't be a URL for COPY: {s}");
                }
                let dl = self.shared.block_on(crate::engine::add::download(
                    s,
                    dirs.path(),
                    c.checksum.as_deref(),
                ))?;
                let named = dirs.path().join(format!("dl-{}", downloads.len()));
                std::fs::create_dir(&named)?;
                let file = named.join(&dl.file_name);
                std::fs::rename(&dl.path, &file)?;
                if let Some(m) = dl.modified {
                    let t = filetime_from(m);
                    nix::sys::stat::utimensat(
                        nix::fcntl::AT_FDCWD,
                        &file,
                        &t,
                        &t,
                        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                    )?;
                }
                std::fs::set_permissions(
                    &file,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )?;
                downloads.push(file);
            } else {
                local_sources.push(s.clone());
            }
        }
        let inline_dir = dirs.path().join("inline");
        std::fs::create_dir(&inline_dir)?;
        let mut inline_files = Vec::new();
        for f in &c.inline {
            let p = inline_dir.join(&f.name);
            std::fs::write(&p, f.raw.as_deref().unwrap_or(f.data.as_bytes()))?;
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
            inline_files.push(p);
        }

        let mut specs = vec![OverlaySpec {
            lowers,
            upper: Some(upper.clone()),
        }];
        if let Some(src) = &source_lowers {
            specs.push(OverlaySpec {
                lowers: src.clone(),
                upper: None,
            });
        }
        let context = self.context;
        let unpack = c.add && c.unpack.unwrap_or(true);
        let files: Vec<PathBuf> = downloads.into_iter().chain(inline_files).collect();
        with_overlays(&specs, dirs.path(), |roots| {
            let result: Result<()> = (|| {
                let selected = match roots.get(1) {
                    Some(src_root) => {
                        let view = BuildContext::stage_root(src_root)?;
                        view.resolve_sources(&local_sources, &select)?
                    }
                    None => context.resolve_sources(&local_sources, &select)?,
                };
                let placement = Placement {
                    selected: &selected,
                    files: &files,
                    dest: &dest,
                    opts: &opts,
                    unpack,
                    from_context: roots.get(1).is_none(),
                };
                crate::engine::overlay_copy::place(&roots[0], &placement)
            })();
            result.map_err(|e| std::io::Error::other(format!("{e:#}")))
        })?;
        self.commit(&upper)
    }
}

fn filetime_from(t: std::time::SystemTime) -> nix::sys::time::TimeSpec {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    nix::sys::time::TimeSpec::new(d.as_secs() as i64, 0)
}

/// A COPY destination made absolute against WORKDIR, keeping a trailing `/`
/// (which means "a directory").
pub fn dest_relative_to_workdir(workdir: &str, dest: &str) -> String {
    let trailing = dest.ends_with('/') || dest == "." || dest.is_empty() || dest.ends_with("/.");
    let abs = if dest.starts_with('/') {
        clean_abs(dest)
    } else {
        clean_abs(&format!(
            "{}/{dest}",
            if workdir.is_empty() { "/" } else { workdir }
        ))
    };
    if trailing && abs != "/" {
        format!("{abs}/")
    } else {
        abs
    }
}

/// Seconds since the epoch now (0 if the clock is before 1970).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dest_rules() {
        assert_eq!(dest_relative_to_workdir("/w", "."), "/w/");
        assert_eq!(dest_relative_to_workdir("/w", "x/"), "/w/x/");
        assert_eq!(dest_relative_to_workdir("/w", "../up.txt"), "/up.txt");
        assert_eq!(dest_relative_to_workdir("/", "/var/tmp/."), "/var/tmp/");
    }
}
