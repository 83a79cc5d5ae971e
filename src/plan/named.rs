//! Names of `--build-context` contexts as BuildKit's dockerui looks them up
//! (`NamedContext`): a name is read as an image name and compared in its
//! familiar form without `:latest`, so `FROM alpine`, `FROM alpine:latest`
//! and `FROM docker.io/library/alpine` all find a context named `alpine`.
//! `scratch` and `context` are never looked up (dockerui skips them).

use std::collections::BTreeMap;

use crate::registry::Reference;

/// The lookup key of a context or image name; `None` when it is not a
/// valid image name.
pub fn context_key(name: &str) -> Option<String> {
    let r = Reference::parse(name).ok()?;
    let f = r.familiar();
    Some(f.strip_suffix(":latest").unwrap_or(&f).to_string())
}

/// The image a context named like `name` stands for, if any.
pub fn lookup(contexts: &BTreeMap<String, String>, name: &str) -> Option<String> {
    if contexts.is_empty()
        || name.eq_ignore_ascii_case("scratch")
        || name.eq_ignore_ascii_case("context")
    {
        return None;
    }
    contexts.get(&context_key(name)?).cloned()
}

/// `name`'s context image, else `name` itself.
pub fn resolve(contexts: &BTreeMap<String, String>, name: &str) -> String {
    lookup(contexts, name).unwrap_or_else(|| name.to_string())
}
