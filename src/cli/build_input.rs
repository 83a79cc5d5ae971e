//! What `builder build` reads first: the Dockerfile (a file, `-f -`, or
//! `docker build - < Dockerfile`) and the build context (a directory or a
//! tar on stdin).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::build::BuildArgs;
use crate::context::{BuildContext, IgnoreSpec};

/// The Dockerfile: name for messages, its bytes, and its path when it is a file.
pub(super) fn read_dockerfile(args: &BuildArgs) -> Result<(String, Vec<u8>, Option<PathBuf>)> {
    let path = match &args.file {
        Some(f) if f == "-" => {
            let (name, text) = super::read_dockerfile(Path::new("-"))?;
            return Ok((name, text, None));
        }
        Some(f) => PathBuf::from(f),
        // `docker build - < Dockerfile`: a Dockerfile on stdin, no context.
        None if args.context == "-" => match super::stdin_context::read()? {
            super::stdin_context::StdinContext::Dockerfile(text) => {
                return Ok(("Dockerfile".to_string(), text, None))
            }
            super::stdin_context::StdinContext::Archive(_) => {
                bail!("with the context as a tar on stdin, give the Dockerfile with -f FILE")
            }
        },
        None => Path::new(&args.context).join("Dockerfile"),
    };
    let (_, text) = super::read_dockerfile(&path)?;
    let name = if args.file.is_none() {
        "Dockerfile".to_string()
    } else {
        path.display().to_string()
    };
    Ok((name, text, Some(path)))
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
