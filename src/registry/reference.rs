//! Image references with Docker's normalisation.
//!
//! Follows the grammar of distribution/reference (the one `docker pull`
//! uses): `[domain/]path[:tag][@digest]`. A first path component is a
//! registry host only if it contains `.` or `:` or is `localhost`; otherwise
//! the image lives on Docker Hub (`docker.io`), and single-component names go
//! under `library/`. A reference without tag or digest gets `:latest`.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// The registry name Docker Hub images are normalised to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The key the docker CLI uses for Docker Hub in `config.json`.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

const NAME_MAX: usize = 255;

/// Why a reference string was rejected. Each variant carries the input so
/// the message alone says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The string was empty.
    #[error("invalid reference: empty image name")]
    Empty,
    /// The string does not match the reference grammar.
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    /// The repository part (named as Docker names it: `library/Ubuntu`) contains
    /// upper-case letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// The name is longer than 255 characters.
    #[error(
        "invalid reference format: repository name must not be more than 255 characters: {0:?}"
    )]
    NameTooLong(String),
    /// The tag does not match `[\w][\w.-]{0,127}`.
    #[error("invalid reference format: invalid tag in {0:?} (tags are [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")]
    InvalidTag(String),
    /// The digest is malformed or of an unsupported algorithm.
    #[error("invalid reference format: invalid digest in {0:?}")]
    InvalidDigest(String),
    /// The name is a 64-character hex string, which Docker reserves for IDs.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
}

static DOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| {
    let comp = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let ipv6 = r"\[(?:[a-fA-F0-9:]+)\]";
    Regex::new(&format!(r"^(?:{comp}(?:\.{comp})*|{ipv6})(?::[0-9]+)?$")).expect("static regex")
});
static PATH_COMPONENT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$").expect("static regex")
});
// Go's `\w` is ASCII-only; Rust's is Unicode, and a Unicode `\w{0,127}`
// costs tens of milliseconds to compile — more than a whole cached build.
// The length limit (128) is checked separately for the same reason.
static TAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$").expect("static regex"));
static DIGEST_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$").expect("static regex")
});
static HEX64_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-f0-9]{64}$").expect("static regex"));

/// A fully normalised image reference, e.g. `docker.io/library/ubuntu:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalises a reference the way `docker pull` does, adding
    /// `:latest` when neither tag nor digest is given.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_named(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".to_string());
        }
        Ok(r)
    }

    /// Parses and normalises a reference without adding a default tag
    /// (for destinations that take their tags from elsewhere).
    pub fn parse_named(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if HEX64_RE.is_match(s) {
            return Err(ReferenceError::HexIdentifier(s.to_string()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => {
                if !DIGEST_RE.is_match(d) || !digest_hex_ok(d) {
                    return Err(ReferenceError::InvalidDigest(s.to_string()));
                }
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/', so a
        // registry port (`host:5000/x`) is never mistaken for one.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                if t.len() > 128 || !TAG_RE.is_match(t) {
                    return Err(ReferenceError::InvalidTag(s.to_string()));
                }
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        let (mut registry, mut repository) = split_domain(name);
        if registry == "index.docker.io" {
            registry = DOCKER_HUB.to_string();
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        if repository.to_lowercase() != repository {
            return Err(ReferenceError::Uppercase(repository));
        }
        if !DOMAIN_RE.is_match(&registry)
            || !repository.split('/').all(|c| PATH_COMPONENT_RE.is_match(c))
        {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong(s.to_string()));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Builds a reference from parts that are already valid and normalised.
    pub fn from_parts(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Self, ReferenceError> {
        let mut s = format!("{registry}/{repository}");
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d);
        }
        Self::parse_named(&s)
    }

    /// The registry name as written in the reference (`docker.io`, `host:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host that serves the registry API (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }

    /// The repository path (`library/ubuntu`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry for: the digest when there is one (it pins
    /// the content), else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// A copy with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// A copy pinned to `digest` (the tag is kept for display).
    pub fn with_digest(&self, digest: &str) -> Self {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The short form Docker shows (`ubuntu:16.04`, `user/app:1`, `host:5000/x:y`).
    pub fn familiar(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        };
        let mut s = name;
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

fn digest_hex_ok(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        Some((_, _)) => true,
        None => false,
    }
}

/// Splits `name` into (registry, repository) by Docker's rule.
fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalises_like_docker() {
        let cases: &[(&str, &str)] = &[
            ("ubuntu", "docker.io/library/ubuntu:latest"),
            ("ubuntu:16.04", "docker.io/library/ubuntu:16.04"),
            ("user/app", "docker.io/user/app:latest"),
            ("docker.io/ubuntu", "docker.io/library/ubuntu:latest"),
            (
                "index.docker.io/library/ubuntu:1",
                "docker.io/library/ubuntu:1",
            ),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/a/b/c:v1", "localhost:5000/a/b/c:v1"),
            (
                "127.0.0.1:5000/library/busybox:latest",
                "127.0.0.1:5000/library/busybox:latest",
            ),
            ("quay.io/coreos/etcd", "quay.io/coreos/etcd:latest"),
            ("Example.COM/app", "Example.COM/app:latest"),
            ("[::1]:5000/app:x", "[::1]:5000/app:x"),
            ("x/a-b_c.d__e---f", "docker.io/x/a-b_c.d__e---f:latest"),
            ("my_tag:Ver_1.0-x", "docker.io/library/my_tag:Ver_1.0-x"),
        ];
        for (input, want) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(&r.to_string(), want, "input {input}");
        }
        let longest = format!("a:_{}", "t".repeat(127));
        assert_eq!(
            Reference::parse(&longest).unwrap().tag().unwrap().len(),
            128
        );
    }

    #[test]
    fn digests_and_tags() {
        let r = Reference::parse(&format!("ubuntu@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.manifest_ref(), D);
        let r = Reference::parse(&format!("host:5000/ubuntu:16.04@{D}")).unwrap();
        assert_eq!(r.registry(), "host:5000");
        assert_eq!(r.tag(), Some("16.04"));
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.familiar(), format!("host:5000/ubuntu:16.04@{D}"));
        assert_eq!(
            Reference::parse("ubuntu").unwrap().api_host(),
            "registry-1.docker.io"
        );
        assert_eq!(
            Reference::parse("ubuntu").unwrap().familiar(),
            "ubuntu:latest"
        );
        assert_eq!(Reference::parse_named("x/y").unwrap().tag(), None);
    }

    #[test]
    fn rejects_invalid() {
        let long = format!("a/{}", "b".repeat(260));
        let cases: Vec<(String, ReferenceError)> = vec![
            ("".into(), ReferenceError::Empty),
            (
                "Ubuntu".into(),
                ReferenceError::Uppercase("library/Ubuntu".into()),
            ),
            (
                "user/App:Tag".into(),
                ReferenceError::Uppercase("user/App".into()),
            ),
            (
                "ubuntu:".into(),
                ReferenceError::InvalidTag("ubuntu:".into()),
            ),
            (
                "ubuntu:-x".into(),
                ReferenceError::InvalidTag("ubuntu:-x".into()),
            ),
            (
                format!("ubuntu:{}", "t".repeat(129)),
                ReferenceError::InvalidTag(format!("ubuntu:{}", "t".repeat(129))),
            ),
            (
                "ubuntu:tåg".into(),
                ReferenceError::InvalidTag("ubuntu:tåg".into()),
            ),
            (
                "ubuntu@sha256:abc".into(),
                ReferenceError::InvalidDigest("ubuntu@sha256:abc".into()),
            ),
            (
                format!("ubuntu@{}", D.to_uppercase().replace("SHA256", "sha256")),
                ReferenceError::InvalidDigest(format!(
                    "ubuntu@{}",
                    D.to_uppercase().replace("SHA256", "sha256")
                )),
            ),
            (
                "ubuntu@".into(),
                ReferenceError::InvalidDigest("ubuntu@".into()),
            ),
            ("a//b".into(), ReferenceError::InvalidFormat("a//b".into())),
            ("/a".into(), ReferenceError::InvalidFormat("/a".into())),
            ("a/".into(), ReferenceError::InvalidFormat("a/".into())),
            ("-a".into(), ReferenceError::InvalidFormat("-a".into())),
            ("a_-b".into(), ReferenceError::InvalidFormat("a_-b".into())),
            (
                "a___b".into(),
                ReferenceError::InvalidFormat("a___b".into()),
            ),
            (
                "host:port/x".into(),
                ReferenceError::InvalidFormat("host:port/x".into()),
            ),
            (
                "-host.com/x".into(),
                ReferenceError::InvalidFormat("-host.com/x".into()),
            ),
            ("a b".into(), ReferenceError::InvalidFormat("a b".into())),
            (":tag".into(), ReferenceError::InvalidFormat(":tag".into())),
            (long.clone(), ReferenceError::NameTooLong(long)),
            (
                D[7..].to_string(),
                ReferenceError::HexIdentifier(D[7..].to_string()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Reference::parse(&input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn errors_name_the_input() {
        let e = Reference::parse("Bad/Name").unwrap_err().to_string();
        assert!(e.contains("Bad/Name") && e.contains("lowercase"), "{e}");
    }
}
