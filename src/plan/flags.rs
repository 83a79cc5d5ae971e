//! Instruction flags (`--name[=value]`) checked against what each
//! instruction accepts, with BuildKit's messages.

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link` or `--link=true|false`.
    Bool,
    /// `--from=x`, at most once.
    Str,
    /// `--exclude=x`, repeatable.
    Strs,
}

/// A flag error: which flag (by index in `Instruction::flags`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlagError {
    pub index: usize,
    pub message: String,
    pub help: Option<String>,
}

/// The flags of one instruction after parsing.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    /// (name, value, index of the flag) in the order written.
    values: Vec<(&'static str, String, usize)>,
}

impl Flags {
    /// Parses `raw` against `spec` (name, kind).
    pub fn parse(raw: &[String], spec: &[(&'static str, Kind)]) -> Result<Flags, FlagError> {
        let mut flags = Flags::default();
        for (index, arg) in raw.iter().enumerate() {
            if arg == "--" {
                break;
            }
            let err = |message: String, help: Option<String>| FlagError {
                index,
                message,
                help,
            };
            let Some(body) = arg.strip_prefix("--") else {
                return Err(err(format!("arg should start with -- : {arg}"), None));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(name, kind)) = spec.iter().find(|(n, _)| *n == name) else {
                let help = if spec.is_empty() {
                    "this instruction takes no flags".to_string()
                } else {
                    let names: Vec<String> = spec.iter().map(|(n, _)| format!("--{n}")).collect();
                    format!("accepted flags: {}", names.join(", "))
                };
                // BuildKit's BFlags wording: the name without dashes, and a close one.
                let mean = crate::dockerfile::suggest(name, spec.iter().map(|(n, _)| *n))
                    .map_or(String::new(), |s| format!(" (did you mean {s}?)"));
                return Err(err(format!("unknown flag: {name}{mean}"), Some(help)));
            };
            if kind != Kind::Strs && flags.values.iter().any(|(n, _, _)| *n == name) {
                return Err(err(format!("duplicate flag specified: {name}"), None));
            }
            let value = match (kind, value) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some("")) => {
                    return Err(err(format!("missing a value on flag: {name}"), None))
                }
                (Kind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                    "true" => "true".into(),
                    "false" => "false".into(),
                    _ => {
                        return Err(err(
                            format!("expecting boolean value for flag {name}, not: {v}"),
                            None,
                        ));
                    }
                },
                (_, None) => return Err(err(format!("missing a value on flag: {name}"), None)),
                (_, Some(v)) => v.to_string(),
            };
            flags.values.push((name, value, index));
        }
        Ok(flags)
    }

    /// The value of a single-valued flag and its index.
    pub fn get(&self, name: &str) -> Option<(&str, usize)> {
        self.values
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, i)| (v.as_str(), *i))
    }

    /// A string flag's value.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|(v, _)| v.to_string())
    }

    /// A boolean flag: `None` when absent.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).map(|(v, _)| v == "true")
    }

    /// Every value of a repeatable flag with its index.
    pub fn all(&self, name: &str) -> Vec<(String, usize)> {
        self.values
            .iter()
            .filter(|(n, _, _)| *n == name)
            .map(|(_, v, i)| (v.clone(), *i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const SPEC: &[(&str, Kind)] = &[
        ("from", Kind::Str),
        ("link", Kind::Bool),
        ("exclude", Kind::Strs),
    ];

    #[test]
    fn parses_and_rejects() {
        let f = Flags::parse(
            &raw(&["--from=a", "--link", "--exclude=x", "--exclude=y"]),
            SPEC,
        )
        .unwrap();
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.all("exclude").len(), 2);
        let e = Flags::parse(&raw(&["--from=a", "--chown=1"]), SPEC).unwrap_err();
        assert_eq!((e.index, e.message.as_str()), (1, "unknown flag: chown"));
        let e = Flags::parse(&raw(&["--from=a", "--from=b"]), SPEC).unwrap_err();
        assert_eq!(e.message, "duplicate flag specified: from");
        assert!(Flags::parse(&raw(&["--from"]), SPEC)
            .unwrap_err()
            .message
            .contains("missing a value"));
        assert!(Flags::parse(&raw(&["--link=maybe"]), SPEC)
            .unwrap_err()
            .message
            .contains("expecting boolean"));
        assert!(
            Flags::parse(&raw(&["--link=FALSE"]), SPEC)
                .unwrap()
                .bool("link")
                == Some(false)
        );
    }
}
