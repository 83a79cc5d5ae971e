//! `builder info`: the isolation level this process would use and why, with
//! what was probed (kernel, capabilities, user namespaces, newuidmap,
//! subordinate id ranges), and the platforms whose binaries it can run
//! (native, or emulated through binfmt_misc).

use clap::Args;

use crate::sandbox::isolation::{self, Choice, Probe};

/// `builder info` options.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The level to report on instead of the one chosen automatically.
    #[arg(long, value_enum)]
    pub isolation: Option<Choice>,
}

/// Prints the report; never fails on a level that does not work (it says so).
pub fn run(args: InfoArgs) -> anyhow::Result<i32> {
    let choice = Choice::resolve(args.isolation)?;
    let root = crate::store::Store::default_root();
    print!("{}", isolation::report(&Probe::run(), choice, &root));
    print!("{}", crate::sandbox::storefs::report(&root));
    let host = crate::plan::Platform::host();
    let binfmt = crate::sandbox::binfmt::Probe::read();
    print!("{}", crate::sandbox::binfmt::report(&binfmt, &host));
    Ok(0)
}
