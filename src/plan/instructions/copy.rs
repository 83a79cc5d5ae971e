//! COPY and ADD: flags, sources, inline heredoc files and the destination.

use super::{flags, Command, Copy, InlineFile};
use crate::diag::Diagnostic;
use crate::dockerfile::Instruction;
use crate::plan::flags::Kind;
use crate::plan::source::SourceText;

pub(super) fn parse_copy(
    src: &SourceText,
    inst: &Instruction,
    add: bool,
) -> Result<Command, Diagnostic> {
    let spec: &[(&str, Kind)] = if add {
        &[
            ("chown", Kind::Str),
            ("chmod", Kind::Str),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::Str),
            ("unpack", Kind::Bool),
            ("exclude", Kind::Strs),
        ]
    } else {
        &[
            ("chown", Kind::Str),
            ("from", Kind::Str),
            ("chmod", Kind::Str),
            ("link", Kind::Bool),
            ("exclude", Kind::Strs),
            ("parents", Kind::Bool),
        ]
    };
    // Labs flags are unknown unless a labs frontend is named (see `with_labs`), flags
    // newer than Docker 26.1's frontend unless some frontend is (see `with_frontend`).
    let spec: Vec<(&str, Kind)> = spec
        .iter()
        .filter(|(n, _)| match *n {
            "exclude" | "parents" => src.labs(),
            "unpack" => src.frontend(),
            _ => true,
        })
        .copied()
        .collect();
    let f = flags(src, inst, &spec)?;
    let kw = if add { "ADD" } else { "COPY" };
    if inst.args.len() < 2 {
        return Err(src.at_keyword(
            inst,
            format!("{kw} requires at least two arguments, but only one was provided. Destination could not be determined"),
        ));
    }
    let (srcs, dest) = inst.args.split_at(inst.args.len() - 1);
    let dest = dest[0].clone();
    if heredoc_name(&dest).is_some_and(|n| inst.heredocs.iter().any(|h| h.name == n)) {
        return Err(src.at_text(
            inst,
            &dest,
            0,
            format!("{kw} cannot accept a heredoc as a destination"),
        ));
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for s in srcs {
        match heredoc_name(s).and_then(|n| inst.heredocs.iter().find(|h| h.name == n)) {
            Some(h) => inline.push(InlineFile {
                name: h.name.clone(),
                data: h.content.clone(),
                raw: if h.expand { None } else { h.raw.clone() },
                expand: h.expand,
            }),
            None => sources.push(s.clone()),
        }
    }
    Ok(Command::Copy(Copy {
        add,
        // `--from=` (empty) copies from the context, as no flag (BuildKit 0.13; parity 288).
        from: f.string("from").filter(|s| !s.is_empty()),
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.bool("link").unwrap_or(false),
        parents: f.bool("parents").unwrap_or(false),
        excludes: f.all("exclude").into_iter().map(|(v, _)| v).collect(),
        sources,
        inline,
        dest,
        checksum: f.string("checksum"),
        keep_git_dir: f.bool("keep-git-dir"),
        unpack: f.bool("unpack"),
    }))
}

/// The name in `<<EOF`, `<<-EOF`, `<<"EOF"` or `<<'EOF'`.
fn heredoc_name(word: &str) -> Option<String> {
    let rest = word.strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let name = rest.trim_matches(|c| c == '"' || c == '\'');
    (!name.is_empty()).then(|| name.to_string())
}
