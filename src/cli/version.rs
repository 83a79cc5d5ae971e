//! `builder version`: the version of builder and what it was built for, in
//! the spirit of `docker version`'s client section.

use anyhow::Result;
use clap::Args;

/// `builder version` options.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format: `json` or a Go template over `Version`, `GoVersion`-like
    /// fields (`{{.Version}}`, `{{.Os}}`, `{{.Arch}}`).
    #[arg(short, long)]
    pub format: Option<String>,
}

/// Runs `builder version`.
pub fn run(args: VersionArgs) -> Result<i32> {
    let info = serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Os": std::env::consts::OS,
        "Arch": crate::store::Platform::host().architecture,
        "RustVersion": env!("CARGO_PKG_RUST_VERSION"),
        "Reference": "Docker 26.1 / BuildKit 0.13",
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", super::template::go_json(&info)),
        Some(t) => println!("{}", super::template::Template::parse(t)?.render(&info)?),
        None => {
            println!("builder:");
            println!(
                " Version:\t{}",
                info["Version"].as_str().unwrap_or_default()
            );
            println!(
                " OS/Arch:\t{}/{}",
                info["Os"].as_str().unwrap_or_default(),
                info["Arch"].as_str().unwrap_or_default()
            );
            println!(
                " Min Rust:\t{}",
                info["RustVersion"].as_str().unwrap_or_default()
            );
            println!(
                " Compatible with:\t{}",
                info["Reference"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(0)
}
