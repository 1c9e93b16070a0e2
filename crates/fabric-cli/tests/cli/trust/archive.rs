//! Items 2, 5, 6, 7: hostile archives and the encryption policy.
//!
//! Zip bombs are refused before anything is written: an entry over the size
//! limit, a ratio over 1:200, a total over the free space, a header that lies
//! about its size (inflation stops at the declared size). Each refusal is exit 2
//! and leaves OUT as it was. The bounded disk use is shown by running the
//! unpacker under a file size limit (`ulimit -f`): no file it writes may pass it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{BAD_INPUT, Home, STORAGE, TestResult, files_under, records};

/// A zip of `entries` (name, bytes), deflated. Names may be given with a `X` in
/// place of a character and fixed afterwards by [`rename`], to get duplicates
/// the zip writer refuses to make.
fn zip_of(entries: &[(&str, Vec<u8>)]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Replace every occurrence of `from` with `to` (same length) in the zip's bytes:
/// local headers and the central directory both.
fn rename(zip: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let n = from.len();
    let mut i = 0;
    while i + n <= zip.len() {
        if &zip[i..i + n] == from.as_bytes() {
            zip[i..i + n].copy_from_slice(to.as_bytes());
            i += n;
        } else {
            i += 1;
        }
    }
}

/// Set the declared uncompressed size of every entry to `size` (local header
/// offset 22, central directory offset 24): a header that lies.
fn lie_about_sizes(zip: &mut [u8], size: u32) {
    let le = size.to_le_bytes();
    let mut i = 0;
    while i + 46 <= zip.len() {
        match &zip[i..i + 4] {
            b"PK\x03\x04" => zip[i + 22..i + 26].copy_from_slice(&le),
            b"PK\x01\x02" => zip[i + 24..i + 28].copy_from_slice(&le),
            _ => {}
        }
        i += 1;
    }
}

/// The manifest text of a dataset named `name` (from a real `init`).
fn manifest(home: &Home, name: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.ds().join("manifest.json"))?)?;
    m["dataset_name"] = name.into();
    Ok(serde_json::to_vec_pretty(&m)?)
}

/// `unpack --in ARCHIVE --out OUT EXTRA` under a file size limit of
/// `fsize_kib` KiB: exit code and stderr.
fn unpack_limited(
    home: &Home,
    archive: &Path,
    out: &Path,
    extra: &[&str],
    fsize_kib: u64,
) -> Result<(i32, String), Box<dyn std::error::Error>> {
    // SIGXFSZ ignored: a write past the limit fails with EFBIG (a full disk, as
    // the unpacker sees it) instead of killing the process.
    let mut script = format!(
        "trap '' XFSZ; ulimit -f {fsize_kib}; exec \"$0\" --db \"$1\" exchange unpack --in \"$2\" --out \"$3\""
    );
    for (i, _) in extra.iter().enumerate() {
        script.push_str(&format!(" \"${}\"", i + 4));
    }
    let out = Command::new("sh")
        .env_clear()
        .env("HOME", home.path())
        .arg("-c")
        .arg(script)
        .arg(assert_cmd::cargo::cargo_bin("fabric"))
        .arg(home.db())
        .arg(archive)
        .arg(out)
        .args(extra)
        .output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// OUT is absent or empty.
fn untouched(out: &Path) -> bool {
    !out.exists() || std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none())
}

/// Item 2: zeros at 1:1000 (an 8 MiB entry), an entry over `--max-entry-bytes`,
/// a total over `--max-total-bytes`, and a header that declares 1 MiB of an
/// entry that inflates to 64 MiB: each refused with exit 2, OUT untouched, and
/// no file written past 2 MiB (the unpacker runs under `ulimit -f 2048`).
#[test]
fn zip_bombs_are_refused_before_writing() -> TestResult {
    let home = Home::new()?;
    let man = manifest(&home, "bomb")?;
    let zeros = vec![0u8; 8 << 20];
    let ratio = home.path().join("ratio.zip");
    std::fs::write(
        &ratio,
        zip_of(&[
            ("manifest.json", man.clone()),
            ("records/z.ndjson", zeros.clone()),
        ])?,
    )?;
    let out = home.path().join("out");
    // The ratio; the entry size (the ratio raised out of the way); the total.
    let cases: [(&[&str], &[&str]); 3] = [
        (&[], &["ratio over 1:200", "--max-ratio"]),
        (
            &["--max-ratio", "100000", "--max-entry-bytes", "1000000"],
            &["over the limit of 1000000", "--max-entry-bytes"],
        ),
        (
            &["--max-ratio", "100000", "--max-total-bytes", "4000000"],
            &["over the limit of 4000000", "--max-total-bytes"],
        ),
    ];
    for (extra, words) in cases {
        let (code, err) = unpack_limited(&home, &ratio, &out, extra, 2048)?;
        assert_eq!(code, BAD_INPUT, "{extra:?}: {err}");
        for word in words {
            assert!(err.contains(word), "{extra:?}: {err}");
        }
        assert!(untouched(&out), "{extra:?}");
    }
    // A header that lies: 64 MiB of zeros declared as 1 MiB (at 1:1, so no ratio
    // check can see it). Inflation stops at the declared size.
    let liar_path = home.path().join("liar.zip");
    std::fs::write(&liar_path, lying_chunk(&man, 64 << 20, 1 << 20)?)?;
    let (code, err) = unpack_limited(&home, &liar_path, &out, &["--max-ratio", "100000000"], 2048)?;
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(
        err.contains("inflates past its declared 1048576 bytes"),
        "{err}"
    );
    assert!(untouched(&out), "{:?}", files_under(&out)?);
    Ok(())
}

/// Item 2: an unpack that runs out of room while writing (a file size limit
/// below the entry's size, which the checks let through) is exit 3, not 2, and
/// leaves OUT as it was.
#[test]
fn running_out_of_space_is_exit_3() -> TestResult {
    let home = Home::new()?;
    let man = manifest(&home, "full")?;
    let path = home.path().join("full.zip");
    std::fs::write(
        &path,
        zip_of(&[
            ("manifest.json", man),
            ("records/z.ndjson", vec![b'x'; 3 << 20]),
        ])?,
    )?;
    let out = home.path().join("out");
    let (code, err) = unpack_limited(&home, &path, &out, &["--max-ratio", "1000000"], 1024)?;
    assert_eq!(code, STORAGE, "{err}");
    assert!(err.contains("cannot write"), "{err}");
    assert!(untouched(&out), "{:?}", files_under(&out)?);
    Ok(())
}

/// A zip with a true manifest and a chunk of `real` zero bytes whose headers
/// declare `declared` bytes.
fn lying_chunk(
    man: &[u8],
    real: usize,
    declared: u32,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let head = zip_of(&[("manifest.json", man.to_vec())])?;
    let whole = zip_of(&[
        ("manifest.json", man.to_vec()),
        ("records/z.ndjson", vec![0u8; real]),
    ])?;
    let mut whole = whole;
    // Local header of the second entry: right after the first entry's data,
    // which ends where the first archive's central directory starts.
    let first_end = find(&head, b"PK\x01\x02").ok_or("no central directory")?;
    assert_eq!(&whole[first_end..first_end + 4], b"PK\x03\x04");
    whole[first_end + 22..first_end + 26].copy_from_slice(&declared.to_le_bytes());
    // The second central directory record.
    let cd = find(&whole, b"PK\x01\x02").ok_or("no central directory")?;
    let second = cd + 4 + find(&whole[cd + 4..], b"PK\x01\x02").ok_or("one record")?;
    whole[second + 24..second + 28].copy_from_slice(&declared.to_le_bytes());
    Ok(whole)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Item 2: entries whose declared total is more than the free space of OUT's
/// filesystem are refused before writing (exit 3: the target lacks room), and
/// the total limit raised by a flag lets the unpack go on.
#[test]
fn a_total_over_the_free_space_is_refused() -> TestResult {
    let home = Home::new()?;
    let man = manifest(&home, "big")?;
    let df = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(home.path())
        .output()?;
    let free: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .ok_or("df")?;
    let each: u32 = 0xF000_0000; // under 4 GiB, so no entry limit applies
    let n = usize::try_from(free / u64::from(each) + 2)?;
    let mut entries = vec![("manifest.json".to_owned(), man)];
    for i in 0..n {
        entries.push((format!("records/c{i}.ndjson"), b"{}\n".to_vec()));
    }
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let mut zip = zip_of(&refs)?;
    // Every chunk entry declares `each` bytes; the manifest keeps its size.
    let man_len = u32::try_from(entries[0].1.len())?;
    lie_about_sizes(&mut zip, each);
    let mut i = 0;
    while let Some(at) = find(&zip[i..], b"manifest.json") {
        let at = i + at;
        // The header this name belongs to starts 30 (local) or 46 (central) bytes before.
        if at >= 30 && &zip[at - 30..at - 26] == b"PK\x03\x04" {
            zip[at - 8..at - 4].copy_from_slice(&man_len.to_le_bytes());
        }
        if at >= 46 && &zip[at - 46..at - 42] == b"PK\x01\x02" {
            zip[at - 22..at - 18].copy_from_slice(&man_len.to_le_bytes());
        }
        i = at + 1;
    }
    let path = home.path().join("big.zip");
    std::fs::write(&path, zip)?;
    let out = home.path().join("out");
    let (code, err) = unpack_limited(&home, &path, &out, &["--max-ratio", "1000000000000"], 2048)?;
    assert_eq!(code, STORAGE, "{err}");
    assert!(err.contains("not enough free space"), "{err}");
    assert!(untouched(&out));
    Ok(())
}

/// Item 7: a second `manifest.json` or a second chunk of one name is refused
/// (exit 2, nothing written); two `_pack_meta.json` are allowed.
#[test]
fn duplicate_entries_are_refused() -> TestResult {
    let home = Home::new()?;
    let man = manifest(&home, "dup")?;
    let other = manifest(&home, "renamed")?;
    let line = records(0, 1).into_bytes();
    let out = home.path().join("out");
    for (entries, from, to) in [
        (
            vec![
                ("manifest.json", man.clone()),
                ("manifesX.json", other.clone()),
            ],
            "manifesX.json",
            "manifest.json",
        ),
        (
            vec![
                ("manifest.json", man.clone()),
                ("records/2024/c-0001.ndjson", line.clone()),
                ("records/2024/c-000X.ndjson", b"{}\n".to_vec()),
            ],
            "c-000X.ndjson",
            "c-0001.ndjson",
        ),
    ] {
        let mut zip = zip_of(&entries)?;
        rename(&mut zip, from, to);
        let path = home.path().join("dup.zip");
        std::fs::write(&path, zip)?;
        let (code, err) = unpack_limited(&home, &path, &out, &[], 1 << 20)?;
        assert_eq!(code, BAD_INPUT, "{err}");
        assert!(err.contains("appears more than once"), "{err}");
        assert!(untouched(&out));
    }
    let mut zip = zip_of(&[
        ("manifest.json", man),
        ("_pack_meta.json", b"{}".to_vec()),
        ("_pack_metX.json", b"{}".to_vec()),
    ])?;
    rename(&mut zip, "_pack_metX.json", "_pack_meta.json");
    let path = home.path().join("meta.zip");
    std::fs::write(&path, zip)?;
    let (code, err) = unpack_limited(&home, &path, &out, &[], 1 << 20)?;
    assert_eq!(code, 0, "{err}");
    assert!(out.join("dup/manifest.json").exists());
    Ok(())
}

/// Item 6: an unpack killed mid-extraction leaves `OUT/.NAME.unpack-XXXX`; the
/// next unpack into OUT removes it, and so does any reader of a dataset in OUT.
/// A live unpack's folder (its lock held) is never removed.
#[test]
fn a_killed_unpacks_folder_is_removed() -> TestResult {
    let home = Home::new()?;
    // A pack big enough for the extraction to take a while.
    let big: String = (0..20_000)
        .map(|i| {
            serde_json::json!({"natural_key": format!("n{i}"), "request": null,
                "response": {"body": format!("{i:0>400}")}})
            .to_string()
                + "\n"
        })
        .collect();
    assert_eq!(home.add(&big, &[])?.code, 0);
    let zip = home.path().join("cold.zip.enc");
    let key = [("SNAPSHOT_ENCRYPTION_KEY", "test-key-not-secret")];
    let packed = home.run(
        &[
            "exchange",
            "pack",
            "--encrypt",
            "--manifest",
            &home.m(),
            "--out",
        ],
        &[zip.to_str().ok_or("path")?],
        "",
        &key,
    )?;
    assert_eq!(packed.code, 0, "{packed:?}");
    let enc = zip;
    let out = home.path().join("out");
    std::fs::create_dir_all(&out)?;
    let temp_folders = |out: &Path| -> Vec<String> {
        std::fs::read_dir(out)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(".unpack-") && !n.ends_with(".lock"))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Mid-extraction: a folder and its lock. A kill between the two leaves a
    // folder without a lock, which the next unpack leaves alone for a grace
    // period (it may be a live unpack's, about to lock it): not this case.
    let mid_extraction = |out: &Path| {
        temp_folders(out)
            .iter()
            .any(|n| out.join(format!("{n}.lock")).exists())
    };
    let mut killed = false;
    for _attempt in 0..5 {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("fabric"))
            .env_clear()
            .env("HOME", home.path())
            .env(key[0].0, key[0].1)
            .arg("--db")
            .arg(home.db())
            .args(["exchange", "unpack", "--in"])
            .arg(&enc)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let start = Instant::now();
        while !mid_extraction(&out)
            && child.try_wait()?.is_none()
            && start.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill()?;
        child.wait()?;
        if mid_extraction(&out) {
            killed = true;
            break;
        }
        let _ = std::fs::remove_dir_all(out.join("ds"));
        for name in temp_folders(&out) {
            let _ = std::fs::remove_dir_all(out.join(&name));
            let _ = std::fs::remove_file(out.join(format!("{name}.lock")));
        }
    }
    assert!(killed, "the unpack was never caught mid-extraction");
    // A live unpacker's folder: its lock is held (here, by a child process).
    let live = out.join(".other.unpack-live");
    std::fs::create_dir_all(live.join("records"))?;
    let lock_path = out.join(".other.unpack-live.lock");
    std::fs::write(&lock_path, b"")?;
    // The shell opens the file on fd 9, `flock` locks that open file and exits,
    // and the shell becomes `sleep`: killing it releases the lock.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 9>>\"$0\" && flock -x 9 && exec sleep 120")
        .arg(&lock_path)
        .spawn()?;
    // `flock` holds it once a non-blocking attempt from here fails.
    let start = Instant::now();
    while Command::new("flock")
        .args(["-n", "-x"])
        .arg(&lock_path)
        .arg("true")
        .status()?
        .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "flock never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The next unpack removes the dead folder, keeps the live one, and succeeds.
    let again = home.run(
        &[
            "exchange",
            "unpack",
            "--in",
            enc.to_str().ok_or("path")?,
            "--out",
        ],
        &[out.to_str().ok_or("path")?],
        "",
        &key,
    )?;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(temp_folders(&out), vec![".other.unpack-live".to_owned()]);
    holder.kill()?;
    holder.wait()?;
    // A reader of a dataset in OUT removes a dead one too.
    std::fs::create_dir_all(out.join(".x.unpack-dead/records"))?;
    std::fs::write(out.join(".x.unpack-dead.lock"), b"")?;
    let verify = home.run(
        &[
            "exchange",
            "verify",
            "--manifest",
            out.join("ds/manifest.json").to_str().ok_or("p")?,
        ],
        &[],
        "",
        &[],
    )?;
    assert_eq!(verify.code, 0, "{verify:?}");
    assert!(temp_folders(&out).is_empty(), "{:?}", temp_folders(&out));
    Ok(())
}

/// Item 5: with `encryption_policy.enabled`, `pack` encrypts; without a key it
/// refuses (exit 2) and writes nothing; `--no-encrypt` writes plaintext and says
/// so; a key file readable by others is refused, a private one works both ways.
#[test]
fn the_encryption_policy_is_honoured() -> TestResult {
    let home = Home::new()?;
    assert_eq!(home.add(&records(0, 3), &[])?.code, 0);
    let mpath = home.ds().join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&mpath)?)?;
    m["encryption_policy"]["enabled"] = true.into();
    std::fs::write(&mpath, serde_json::to_string_pretty(&m)?)?;
    let cold = home.path().join("cold");
    let out = cold.join("a.zip");
    let sealed_out = cold.join("a.zip.enc");
    let run_pack = |out: &Path, extra: &[&str], env: &[(&str, &str)]| {
        let m = home.m();
        let out_arg = out.to_str().ok_or("path")?;
        home.run(
            &["exchange", "pack", "--manifest", &m, "--out", out_arg],
            extra,
            "",
            env,
        )
    };
    let pack = |extra: &[&str], env: &[(&str, &str)]| run_pack(&sealed_out, extra, env);
    let refused = pack(&[], &[])?;
    assert_eq!(refused.code, BAD_INPUT, "{refused:?}");
    assert!(
        refused.stderr.contains("SNAPSHOT_ENCRYPTION_KEY"),
        "{refused:?}"
    );
    assert!(
        !cold.exists() || files_under(&cold)?.is_empty(),
        "nothing written"
    );

    let enc = pack(&[], &[("SNAPSHOT_ENCRYPTION_KEY", "k-not-secret")])?;
    assert_eq!(enc.code, 0, "{enc:?}");
    let sealed = std::fs::read(cold.join("a.zip.enc"))?;
    assert!(!sealed.starts_with(b"PK"), "encrypted");
    assert!(!out.exists(), "no plaintext zip");

    // The policy encrypts, so a plain zip's name is refused: the file is written
    // under exactly the name given.
    let misnamed = run_pack(&out, &[], &[("SNAPSHOT_ENCRYPTION_KEY", "k-not-secret")])?;
    assert_eq!(misnamed.code, BAD_INPUT, "{misnamed:?}");
    assert!(
        misnamed.stderr.contains("NAME.zip.enc") && misnamed.stderr.contains("--no-encrypt"),
        "{misnamed:?}"
    );
    assert!(!out.exists(), "{misnamed:?}");

    let plain = run_pack(&out, &["--no-encrypt"], &[])?;
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(plain.stderr.contains("--no-encrypt"), "{plain:?}");
    assert!(plain.stdout.contains("NOT encrypted"), "{plain:?}");
    assert!(std::fs::read(&out)?.starts_with(b"PK"));
    std::fs::remove_file(&out)?;

    let key = home.path().join("key.txt");
    std::fs::write(&key, "file-key-not-secret\n")?;
    let set_mode = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode))
    };
    set_mode(0o644)?;
    let key_arg = key.to_str().ok_or("path")?;
    std::fs::remove_file(cold.join("a.zip.enc"))?;
    let open = pack(&["--key-file", key_arg], &[])?;
    assert_eq!(open.code, BAD_INPUT, "{open:?}");
    assert!(open.stderr.contains("group or others"), "{open:?}");
    assert!(!cold.join("a.zip.enc").exists());
    set_mode(0o600)?;
    let ok = pack(&["--key-file", key_arg], &[])?;
    assert_eq!(ok.code, 0, "{ok:?}");
    let unpacked = home.path().join("unpacked");
    let back = home.run(
        &["exchange", "unpack", "--key-file", key_arg, "--in"],
        &[
            cold.join("a.zip.enc").to_str().ok_or("p")?,
            "--out",
            unpacked.to_str().ok_or("p")?,
        ],
        "",
        &[],
    )?;
    assert_eq!(back.code, 0, "{back:?}");
    assert!(unpacked.join("ds/manifest.json").exists());
    Ok(())
}

/// Item 5: with the policy on, no key file and no variable, `pack` asks for the
/// passphrase when stdin is a terminal (a pseudo-terminal made by `script`),
/// without echoing it, and encrypts with it. Counted as skipped (a message on
/// stderr) where `script` is missing.
#[test]
fn the_policy_prompts_on_a_terminal() -> TestResult {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no `script` to make a pseudo-terminal");
        return Ok(());
    }
    let home = Home::new()?;
    assert_eq!(home.add(&records(0, 2), &[])?.code, 0);
    let mpath = home.ds().join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&mpath)?)?;
    m["encryption_policy"]["enabled"] = true.into();
    std::fs::write(&mpath, serde_json::to_string_pretty(&m)?)?;
    let zip = home.path().join("t.zip.enc");
    let command = format!(
        "'{}' --db '{}' exchange pack --manifest '{}' --out '{}'",
        assert_cmd::cargo::cargo_bin("fabric").display(),
        home.db().display(),
        home.m(),
        zip.display()
    );
    let mut child = Command::new("script")
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Typed once the prompt is up.
    std::thread::sleep(Duration::from_millis(1500));
    child
        .stdin
        .take()
        .ok_or("stdin")?
        .write_all(b"typed-key-not-secret\n")?;
    let out = child.wait_with_output()?;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("passphrase:"), "{shown}");
    assert!(
        !shown.contains("typed-key-not-secret"),
        "the passphrase was echoed"
    );
    let enc = zip;
    let back = home.run(
        &[
            "exchange",
            "unpack",
            "--in",
            enc.to_str().ok_or("p")?,
            "--out",
        ],
        &[home.path().join("back").to_str().ok_or("p")?],
        "",
        &[("SNAPSHOT_ENCRYPTION_KEY", "typed-key-not-secret")],
    )?;
    assert_eq!(back.code, 0, "{back:?}");
    Ok(())
}
