//! `fabric exchange pack` and `unpack`: a dataset to a deterministic (optionally
//! encrypted) archive and back.

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use exchange_sync::manifest::{Manifest, ManifestFile};
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::exit;
use crate::output::{print_json, print_text};

/// `exchange pack`.
#[derive(Debug, ClapArgs)]
pub struct PackArgs {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// The archive, written under exactly this name: NAME.zip, or NAME.zip.enc
    /// when encrypted (another ending is refused).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Encrypt (also the default when the manifest's encryption_policy.enabled is
    /// true). The passphrase comes from --key-file, SNAPSHOT_ENCRYPTION_KEY, the
    /// policy's key_file_path, or a prompt when stdin is a terminal.
    #[arg(long, conflicts_with = "no_encrypt")]
    encrypt: bool,
    /// Write a plaintext archive although the manifest's encryption_policy asks
    /// for encryption (the command says that it did).
    #[arg(long)]
    no_encrypt: bool,
    /// Read the passphrase from FILE (refused when group or others can read it).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Say what would be written; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `exchange unpack`.
#[derive(Debug, ClapArgs)]
pub struct UnpackArgs {
    /// The archive (.zip, or .zip.enc with SNAPSHOT_ENCRYPTION_KEY).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Parent folder: the dataset lands in OUT/<dataset_name>/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Read the passphrase of an encrypted archive from FILE (refused when group
    /// or others can read it); else SNAPSHOT_ENCRYPTION_KEY, else a prompt when
    /// stdin is a terminal.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Refuse an entry larger than this, declared or inflated (default 4 GiB).
    #[arg(long, value_name = "BYTES")]
    max_entry_bytes: Option<u64>,
    /// Refuse an entry over 1 MiB that inflates more than N times its compressed
    /// size (default 200).
    #[arg(long, value_name = "N")]
    max_ratio: Option<u64>,
    /// Refuse an archive whose entries hold more than this in total (default: the
    /// free space of OUT's filesystem minus 256 MiB).
    #[arg(long, value_name = "BYTES")]
    max_total_bytes: Option<u64>,
    /// Refuse an archive file larger than this (default 4 GiB; it is read whole).
    #[arg(long, value_name = "BYTES")]
    max_archive_bytes: Option<u64>,
    /// Check the archive; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The passphrase: `--key-file`, else `SNAPSHOT_ENCRYPTION_KEY`, else the
/// manifest policy's `key_file_path`, else a prompt when stdin is a terminal.
fn passphrase(
    key_file: Option<&Path>,
    manifest: Option<&Manifest>,
) -> Result<exchange_sync::crypto::Zeroizing<Vec<u8>>, CliError> {
    use exchange_sync::crypto::{KEY_ENV, passphrase_from_env, passphrase_from_file};
    if let Some(path) = key_file {
        return Ok(passphrase_from_file(path)?);
    }
    if let Some(key) = passphrase_from_env(KEY_ENV) {
        return Ok(key);
    }
    let policy_file = manifest
        .and_then(|m| m.encryption_policy.get("key_file_path"))
        .and_then(serde_json::Value::as_str)
        .filter(|p| !p.is_empty());
    if let Some(path) = policy_file {
        return Ok(passphrase_from_file(Path::new(path))?);
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let term = console::Term::stderr();
        let _ = term.write_str("passphrase: ");
        if let Ok(line) = term.read_secure_line()
            && !line.is_empty()
        {
            return Ok(exchange_sync::crypto::Zeroizing::new(line.into_bytes()));
        }
    }
    Err(exchange_sync::Error::MissingKey {
        var: KEY_ENV.into(),
    }
    .into())
}

/// The `--out` to give `pack`: a FIFO, device or folder at the archive's path is
/// refused (an archive is a regular file, written by rename), and a link is
/// followed so that its target, not the link, is replaced.
fn pack_target(out: &Path, encrypt: bool) -> Result<PathBuf, CliError> {
    use exchange_sync::archive::name_fits;
    match crate::output::output_target("--out", out, false)? {
        crate::output::OutputTarget::File(file) if file == out => Ok(out.to_path_buf()),
        crate::output::OutputTarget::File(file) if name_fits(&file, encrypt) => Ok(file),
        other => Err(CliError::Usage(format!(
            "--out {}: it links to {other:?}, whose name does not end in {}; give the target's path",
            out.display(),
            exchange_sync::archive::archive_suffix(encrypt)
        ))),
    }
}

pub(super) fn pack(ctx: &Ctx, a: PackArgs) -> CmdResult {
    use exchange_sync::archive::Encryption;
    let manifest = Manifest::load(&a.manifest)?;
    let policy = exchange_sync::archive::policy_requires_encryption(&manifest);
    let decision = Encryption::decide(policy, a.encrypt, a.no_encrypt)?;
    let key = match decision {
        Encryption::On => Some(passphrase(a.key_file.as_deref(), Some(&manifest))?),
        Encryption::Off | Encryption::Overridden => None,
    };
    if decision == Encryption::Overridden {
        // Not silenced by --quiet or --json: the user overrode a policy.
        eprintln!(
            "warning: --no-encrypt: {} asks for encryption (encryption_policy.enabled); \
             writing a plaintext archive",
            a.manifest.display()
        );
    }
    let named = archive_name(&a.out, decision == Encryption::On, policy)?;
    let bar = ctx.progress_bytes(0, "pack");
    let mut progress = crate::progress::follow(&bar);
    let out = pack_target(&named, decision == Encryption::On)?;
    let outcome = exchange_sync::archive::pack(
        &manifest,
        &a.manifest,
        &out,
        key.as_deref().map(Vec::as_slice),
        a.dry_run,
        &mut progress,
    )?;
    bar.finish_and_clear();
    // The size of the file written (none for a dry run), beside the dataset's.
    let written = if a.dry_run {
        None
    } else {
        Some(
            std::fs::metadata(&outcome.path)
                .map_err(|source| CliError::Output {
                    path: outcome.path.clone(),
                    source,
                })?
                .len(),
        )
    };
    if ctx.json {
        print_json(&json!({
            "path": outcome.path,
            "entries": outcome.entries,
            "bytes": written,
            "dataset_bytes": outcome.bytes,
            "encrypted": outcome.encrypted,
            "encryption_policy_overridden": decision == Encryption::Overridden,
            "dry_run": a.dry_run,
        }))?;
    } else {
        let size = written.map_or_else(
            || {
                format!(
                    "{} of dataset files",
                    fabric_core::size::describe(outcome.bytes)
                )
            },
            fabric_core::size::describe,
        );
        print_text(&format!(
            "{} {} ({} entries, {size}{})",
            if a.dry_run { "would write" } else { "wrote" },
            outcome.path.display(),
            outcome.entries,
            match decision {
                _ if outcome.encrypted => ", encrypted",
                Encryption::Overridden => ", NOT encrypted: --no-encrypt overrode the policy",
                _ => "",
            }
        ))?;
    }
    Ok(exit::SUCCESS)
}

/// `pack --out` is written under exactly the name given, so the name must say
/// what the file is: `NAME.zip.enc` for an encrypted archive (`--encrypt`, or
/// the manifest's encryption policy), `NAME.zip` for a plain one. Anything else
/// is refused (exit 2) with the ending that fits and how to get the other kind.
fn archive_name(out: &Path, encrypt: bool, policy: bool) -> Result<PathBuf, CliError> {
    use exchange_sync::archive::{archive_suffix, name_fits};
    if name_fits(out, encrypt) {
        return Ok(out.to_path_buf());
    }
    let why = match (encrypt, policy) {
        (true, true) => "the manifest's encryption_policy asks for encryption",
        (true, false) => "--encrypt writes an encrypted archive",
        (false, true) => "--no-encrypt writes a plain zip",
        (false, false) => "the archive is a plain zip",
    };
    let other = match (encrypt, policy) {
        (true, true) => "; for a plain NAME.zip add --no-encrypt",
        (true, false) => "; for a plain NAME.zip leave out --encrypt",
        (false, true) => "; for NAME.zip.enc leave out --no-encrypt",
        (false, false) => "; for NAME.zip.enc add --encrypt",
    };
    Err(CliError::Usage(format!(
        "--out {}: {why}: name it NAME{}{other}",
        out.display(),
        archive_suffix(encrypt)
    )))
}

pub(super) fn unpack(ctx: &Ctx, a: UnpackArgs) -> CmdResult {
    let mut limits = exchange_sync::archive::UnpackLimits::default();
    if let Some(n) = a.max_entry_bytes {
        limits.max_entry = n;
    }
    if let Some(n) = a.max_ratio {
        limits.max_ratio = n;
    }
    limits.max_total = a.max_total_bytes;
    if let Some(n) = a.max_archive_bytes {
        exchange_sync::input_limits::set(exchange_sync::input_limits::Limits {
            archive: n,
            ..exchange_sync::input_limits::get()
        });
    }
    // Read once (a regular file within the archive limit); the passphrase is
    // asked for only when it is encrypted.
    let raw = exchange_sync::archive::read_archive(&a.input)?;
    let encrypted =
        a.input.to_string_lossy().ends_with(".enc") || !exchange_sync::archive::is_plain_zip(&raw);
    // Without a key, the library still checks the archive and then says that the
    // key is missing.
    let key = if encrypted {
        match passphrase(a.key_file.as_deref(), None) {
            Ok(k) => Some(k),
            Err(CliError::Exchange(exchange_sync::Error::MissingKey { .. })) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    // The total is the entries' declared sizes, known once they are checked.
    let bar = ctx.progress_bytes(0, "unpack");
    let path = exchange_sync::archive::unpack_bytes(
        raw,
        &a.input,
        &a.out,
        key.as_deref().map(Vec::as_slice),
        exchange_sync::crypto::ITERATIONS,
        a.dry_run,
        &limits,
        &mut crate::progress::follow(&bar),
    );
    bar.finish_and_clear();
    let path = path?;
    if ctx.json {
        print_json(
            &json!({"path": path, "manifest": path.join("manifest.json"), "dry_run": a.dry_run}),
        )?;
    } else {
        print_text(&format!(
            "{}{}",
            if a.dry_run { "would unpack to " } else { "" },
            path.display()
        ))?;
    }
    Ok(exit::SUCCESS)
}
