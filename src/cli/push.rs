//! `builder push NAME[:TAG] [DEST...]`.

use anyhow::Result;
use clap::Args;

use super::pull::{find_local, runtime, StoreArgs};
use crate::registry::{self, ManifestFormat, PushOptions, Reference};

/// Manifest format choices for `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// OCI media types.
    Oci,
    /// Docker schema2 media types.
    Docker,
}

impl From<FormatArg> for ManifestFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Oci => ManifestFormat::Oci,
            FormatArg::Docker => ManifestFormat::Docker,
        }
    }
}

/// `builder push` options.
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Convert the manifest's media types (default: keep the stored format).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Compression of layers stored uncompressed: gzip (default), zstd or uncompressed.
    #[arg(long, default_value = "gzip")]
    pub compression: String,
    /// Compression level (gzip 0-9, zstd 1-22).
    #[arg(long)]
    pub compression_level: Option<i32>,
    /// Print only the pushed digest.
    #[arg(short, long)]
    pub quiet: bool,
    /// The local image to push.
    pub image: String,
    /// Where to push (default: the image's own name); several for several tags.
    pub dest: Vec<String>,
}

/// Runs `builder push`.
pub fn run(args: PushArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let (name, desc) = find_local(&store, &args.image)?;
    let dests: Vec<Reference> = if args.dest.is_empty() {
        vec![Reference::parse(&name)?]
    } else {
        args.dest
            .iter()
            .map(|d| Reference::parse(d))
            .collect::<Result<_, _>>()?
    };
    // Every local name of this image is a candidate mount source.
    let mount_from = store
        .list_images()?
        .into_iter()
        .filter(|i| i.descriptor.digest == desc.digest)
        .filter_map(|i| Reference::parse(&i.name).ok())
        .collect();
    let progress = super::pull::transfer_progress(args.quiet);
    let client = args.store.client()?.with_transfers(progress.on_transfer());
    let opts = PushOptions {
        format: args.format.map(Into::into),
        mount_from,
        compression: export_compression(&args.compression, args.compression_level)?,
    };
    let rt = runtime()?;
    // A build's attested index: its image re-exported, the attestations
    // re-attached to the pushed manifest (see attest::store::republish).
    if crate::attest::store::has_attestations(&store, &desc) {
        let export_opts = registry::convert::ExportOptions {
            format: Some(ManifestFormat::Oci),
            compression: opts.compression,
            force: false,
        };
        let index = crate::attest::store::republish(&store, &desc, |m| {
            registry::convert::export_manifest(&store, m, &export_opts)
        })?;
        let d = rt.block_on(crate::attest::store::push_index(
            &client, &store, &index, &dests,
        ))?;
        if args.quiet {
            println!("{d}");
        } else {
            for r in &dests {
                eprintln!(
                    "{}: digest: {d} (image index with attestations)",
                    r.familiar()
                );
            }
        }
        return Ok(0);
    }
    let names: Vec<String> = dests.iter().map(Reference::familiar).collect();
    let pushed = super::pull::transfer_step(
        &rt,
        &progress,
        format!("pushing {}", names.join(", ")),
        registry::push(&client, &store, &desc, &dests, &opts),
    )?;
    let digest = pushed.digest.map(|d| d.to_string()).unwrap_or_default();
    if args.quiet {
        println!("{digest}");
    } else {
        for d in &dests {
            eprintln!(
                "{}: digest: {digest} size: {} ({} uploaded, {} mounted, {} already present)",
                d.familiar(),
                pushed.size,
                pushed.uploaded,
                pushed.mounted,
                pushed.skipped
            );
        }
        println!("{digest}");
    }
    Ok(0)
}

/// `--compression` and `--compression-level`, checked.
pub fn export_compression(
    algorithm: &str,
    level: Option<i32>,
) -> Result<crate::registry::convert::ExportCompression> {
    let algo: crate::layer::Compression = algorithm.parse()?;
    let level = match level {
        Some(l) => Some(algo.check_level(l)?),
        None => None,
    };
    Ok(crate::registry::convert::ExportCompression {
        algorithm: Some(algo),
        level,
    })
}
