//! What `builder build` reads first: the Dockerfile (a file, `-f -`, or
//! `docker build - < Dockerfile`) and the build context (a directory or a
//! tar on stdin).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::build::BuildArgs;
use crate::context::{BuildContext, IgnoreSpec};

/// The Dockerfile: name for messages, its bytes, its path when it is a
/// file, and the build context when it had to be read first (a tar on
/// stdin holds the Dockerfile too).
pub(super) type Dockerfile = (String, Vec<u8>, Option<PathBuf>, Option<StdinTar>);

/// A context tar read from stdin, extracted in the temp area of the store
/// opened for it: keep `store` until `context` is dropped (the area goes
/// with the store).
pub(super) struct StdinTar {
    pub context: BuildContext,
    pub store: crate::store::Store,
}

/// Reads the Dockerfile: `-f FILE`, `-f -`, CONTEXT/Dockerfile, or, with the
/// context `-`, from what stdin holds (see [`from_stdin`]).
pub(super) fn read_dockerfile(args: &BuildArgs) -> Result<Dockerfile> {
    let path = match &args.file {
        Some(f) if f == "-" => {
            let (name, text) = super::read_dockerfile(Path::new("-"))?;
            return Ok((name, text, None, None));
        }
        _ if args.context == "-" => return from_stdin(args),
        Some(f) => PathBuf::from(f),
        None => Path::new(&args.context).join("Dockerfile"),
    };
    let c = &args.context;
    if c.contains("://") || c.starts_with("git@") || c.starts_with("github.com/") {
        bail!(
            "the build context {c}: git and HTTP contexts are not supported; clone or download \
             it and give the directory (or a tar on stdin with -)"
        );
    }
    // A missing context is named before its Dockerfile, in buildx's words.
    if !Path::new(&args.context).exists() {
        bail!(
            "unable to prepare context: path {:?} not found",
            args.context
        );
    }
    let (_, text) = super::read_dockerfile(&path)?;
    let name = if args.file.is_none() {
        "Dockerfile".to_string()
    } else {
        path.display().to_string()
    };
    Ok((name, text, Some(path), None))
}

/// The context `-`, as buildx's `LoadInputs` reads stdin: a Dockerfile
/// (`docker build - < Dockerfile`: an empty context; with `-f` as well,
/// buildx's "ambiguous Dockerfile source" error), or a context tar whose
/// `Dockerfile` (or `-f PATH`, relative to the tar's root) is the
/// Dockerfile. builder also takes `-f PATH` from the host when the tar has
/// no such file. Errors: unreadable stdin, a bad tar, no Dockerfile.
fn from_stdin(args: &BuildArgs) -> Result<Dockerfile> {
    let head = match super::stdin_context::read()? {
        super::stdin_context::StdinContext::Dockerfile(text) => {
            if let Some(f) = &args.file {
                bail!(
                    "-f {f} and context -: ambiguous Dockerfile source: both stdin and flag \
                     correspond to Dockerfiles"
                );
            }
            return Ok(("Dockerfile".to_string(), text, None, None));
        }
        super::stdin_context::StdinContext::Archive(head) => head,
    };
    // Extracted under the store's temp dir (a context can be large).
    let store = super::pull::StoreArgs {
        root: args.root.clone(),
        registry_config: args.registry_config.clone(),
    }
    .open_store()?;
    let ignore = IgnoreSpec::Auto { dockerfile: None };
    let reader = std::io::Read::chain(&head[..], std::io::stdin().lock());
    let context = BuildContext::from_tar_in(reader, ignore, &store.temp_dir()?)
        .context("reading the build context tar from stdin")?;
    let rel = args.file.as_deref().unwrap_or("Dockerfile");
    let in_tar = crate::engine::fsroot::resolve_in_root(context.root(), rel, true)
        .ok()
        .filter(|p| p.is_file());
    let path = match (in_tar, &args.file) {
        (Some(p), _) => p,
        (None, Some(f)) if Path::new(f).is_file() => PathBuf::from(f),
        (None, _) => bail!(
            "the context tar on stdin has no {rel}: add it to the tar, or give the Dockerfile \
             with -f FILE"
        ),
    };
    let (_, text) = super::read_dockerfile(&path)?;
    let tar = StdinTar { context, store };
    Ok((rel.to_string(), text, None, Some(tar)))
}

/// The build context: a directory, or `-` for a tar on stdin, with the
/// ignore file Docker would use.
pub(super) fn open_context(
    spec: &str,
    dockerfile: Option<&Path>,
    store: &crate::store::Store,
) -> Result<BuildContext> {
    if spec == "-" {
        let ignore = IgnoreSpec::Auto { dockerfile: None };
        return BuildContext::from_tar_in(std::io::stdin().lock(), ignore, &store.temp_dir()?)
            .context("reading the build context tar from stdin");
    }
    let root = Path::new(spec);
    if !root.is_dir() {
        bail!("the build context {spec} is not a directory");
    }
    let dockerfile =
        dockerfile.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    BuildContext::from_dir(root, IgnoreSpec::Auto { dockerfile })
        .with_context(|| format!("opening the build context {spec}"))
}
