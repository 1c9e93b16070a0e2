//! An encrypted archive written straight to disk, in the reference's format
//! (`salt(16) ‖ nonce(12) ‖ AES-256-GCM(ciphertext ‖ tag(16))`, see
//! [`crate::crypto`]), without holding the plaintext in memory or on disk.
//!
//! AES-GCM is counter mode plus a GHASH over the ciphertext, so a byte's
//! ciphertext depends only on its position: [`SealedFile`] encrypts every write at
//! its offset, which lets the zip writer seek back and patch its headers as it does
//! on a plain file. [`SealedFile::commit`] then reads the finished ciphertext back
//! once for the GHASH, appends the tag, syncs and renames the temporary file into
//! place. The bytes are the same as [`crate::crypto::encrypt`] gives for the same
//! salt and nonce (tested).
//!
//! # Why this is AES-GCM, byte for byte
//!
//! GCM (NIST SP 800-38D) with a 96-bit nonce `N` and no additional data is:
//! `J0 = N ‖ 0³¹ ‖ 1`; plaintext block `i` (from 0) is XORed with
//! `E_K(inc32^(i+1)(J0))`; the tag is `E_K(J0) ⊕ GHASH_H(C ‖ pad ‖ len64(0) ‖
//! len64(|C| in bits))` with `H = E_K(0¹²⁸)`. Here:
//!
//! - **Keystream.** [`Ctr`] is AES-256 in counter mode with a 32-bit big-endian
//!   counter started at `J0`, which is GCM's `inc32`. Keystream byte `16 + p` is
//!   the one GCM applies to plaintext byte `p` (block 0, `E_K(J0)`, is skipped: it
//!   masks the tag). Every write seeks the keystream to `16 + pos` before XORing,
//!   so the ciphertext of a byte is a function of its position and value only, not
//!   of the order or the number of writes.
//! - **Seeks.** When the zip writer seeks back to patch a local header (CRC and
//!   sizes), the new plaintext at that position is encrypted with the same
//!   keystream bytes and overwrites the old ciphertext in place. The finished file
//!   therefore holds exactly `P ⊕ keystream` for the final plaintext `P`, the
//!   same bytes a one-shot encryption of `P` gives; the overwritten ciphertext is
//!   not in it. The one exposure: someone who read the temporary file
//!   (owner-only, mode 0600) between the two writes, or who recovers overwritten
//!   blocks from the raw device, holds two ciphertexts under one keystream, and
//!   their XOR is the XOR of the old and new header bytes. The old bytes are the
//!   zip writer's placeholders, so that reader learns the patched fields: each
//!   entry's CRC-32 and sizes (the sizes show in the file length anyway). Such a
//!   reader already has the owner's access or the raw disk. A position written
//!   once leaks nothing.
//!   A write that starts past the end is refused: the gap would hold raw zeros,
//!   not ciphertext, and the file would no longer be the one-shot encryption.
//! - **Counter range.** The 32-bit counter must not wrap back to `J0`. GCM caps
//!   the plaintext at 2³⁹−256 bits (2³⁶−32 bytes, about 64 GiB); a write that would
//!   go past it fails ([`MAX_PLAINTEXT`]), so the counter never reaches `J0` again
//!   and no keystream block is used for two positions.
//! - **Tag coverage.** [`SealedFile::commit`] runs after the last write, reads the
//!   ciphertext back from the file (positional writes and the read go through the
//!   same open file, so the read sees every patch), and feeds GHASH exactly the
//!   bytes `[28, 28 + len)`: 64 KiB chunks, each a whole number of blocks, with
//!   only the last zero-padded, as GCM pads `C`. The length block carries 0 for the
//!   (absent) additional data and `8·len`. The tag thus authenticates every byte of
//!   the final ciphertext, no more and no less. The salt and nonce are not
//!   additional data (the reference has none), but a changed salt derives another
//!   key and a changed nonce another `J0`, so either fails the tag on decryption.
//!
//! The test `streaming_equals_one_shot_with_random_writes_and_seeks` checks this
//! against the `aes-gcm` crate's one-shot encryption on random sizes (across the
//! 16-byte blocks and the 64 KiB read-back chunks) and random seek-and-patch
//! sequences, and decrypts the result with `aes-gcm`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use aes::Aes256;
use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher, StreamCipherSeek};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;

use crate::error::{Error, Result};

const SALT: usize = 16;
const NONCE: usize = 12;
const HEADER: u64 = (SALT + NONCE) as u64;

type Ctr = ctr::Ctr32BE<Aes256>;

/// The longest plaintext GCM allows: 2³⁹−256 bits (SP 800-38D, 5.2.1.1).
pub const MAX_PLAINTEXT: u64 = (1 << 36) - 32;

/// An encrypted file being written under a temporary name next to its final
/// path (`Write + Seek` over the plaintext positions). Removed if dropped before
/// [`SealedFile::commit`].
pub struct SealedFile {
    /// The workspace's atomic writer (`fabric_store::atomic`), written through its
    /// file at explicit offsets; `None` once committed.
    file: Option<fabric_store::atomic::AtomicFile>,
    path: PathBuf,
    key: zeroize::Zeroizing<[u8; 32]>,
    nonce: [u8; NONCE],
    ctr: Ctr,
    /// Plaintext position of the next write.
    pos: u64,
    /// Plaintext length so far.
    len: u64,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for SealedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

fn j0(nonce: &[u8; NONCE]) -> [u8; 16] {
    let mut j0 = [0u8; 16];
    j0[..NONCE].copy_from_slice(nonce);
    j0[15] = 1;
    j0
}

impl SealedFile {
    /// Start writing `path` encrypted with `passphrase` (fresh random salt and
    /// nonce). Its folder must exist.
    pub fn create(path: &Path, passphrase: &[u8]) -> Result<Self> {
        let (salt, nonce) = crate::crypto::fresh_salt_and_nonce();
        Self::create_with(path, passphrase, salt, nonce)
    }

    fn create_with(
        path: &Path,
        passphrase: &[u8],
        salt: [u8; SALT],
        nonce: [u8; NONCE],
    ) -> Result<Self> {
        Self::create_with_key(
            path,
            crate::crypto::derive_key(passphrase, &salt),
            salt,
            nonce,
        )
    }

    /// [`SealedFile::create`] with the key (PBKDF2 of the passphrase and `salt`),
    /// salt and nonce given (tests compare bytes without the slow derivation).
    fn create_with_key(
        path: &Path,
        key: zeroize::Zeroizing<[u8; 32]>,
        salt: [u8; SALT],
        nonce: [u8; NONCE],
    ) -> Result<Self> {
        // The workspace's atomic writer: a dead writer's temporary file is
        // removed, the new file is owner-only (a replaced one keeps its mode), and
        // errors name the file the user asked for.
        let io = |source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        let file = fabric_store::atomic::AtomicFile::create(path).map_err(io)?;
        let mut header = [0u8; HEADER as usize];
        header[..SALT].copy_from_slice(&salt);
        header[SALT..].copy_from_slice(&nonce);
        let ctr = Ctr::new(key.as_ref().into(), &j0(&nonce).into());
        let this = SealedFile {
            key,
            ctr,
            file: Some(file),
            path: path.to_path_buf(),
            nonce,
            pos: 0,
            len: 0,
            scratch: Vec::new(),
        };
        this.file_ref()
            .and_then(|f| f.write_all_at(&header, 0))
            .map_err(io)?;
        Ok(this)
    }

    fn file_ref(&self) -> std::io::Result<&std::fs::File> {
        self.file
            .as_ref()
            .map(fabric_store::atomic::AtomicFile::as_file)
            .ok_or_else(|| std::io::Error::other("file already committed"))
    }

    /// Compute the tag over the ciphertext written, append it, sync and rename
    /// into place.
    pub fn commit(mut self) -> Result<()> {
        let io = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::Internal("encrypted file committed twice".into()))?;
        let cipher = Aes256::new(self.key.as_ref().into());
        let mut h = [0u8; 16].into();
        cipher.encrypt_block(&mut h);
        let mut ghash = GHash::new(&h);
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file.as_file());
        reader.seek(SeekFrom::Start(HEADER)).map_err(io)?;
        let mut left = self.len;
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let chunk = buf.get_mut(..n).unwrap_or_default();
            reader.read_exact(chunk).map_err(io)?;
            // Every chunk but the last is a whole number of blocks.
            ghash.update_padded(chunk);
            left -= n as u64;
        }
        let mut lengths = [0u8; 16];
        lengths[8..].copy_from_slice(&(self.len * 8).to_be_bytes());
        ghash.update(&[lengths.into()]);
        let s = ghash.finalize();
        let mut tag = j0(&self.nonce).into();
        cipher.encrypt_block(&mut tag);
        for (t, x) in tag.iter_mut().zip(s.iter()) {
            *t ^= x;
        }
        drop(reader);
        file.as_file()
            .write_all_at(&tag, HEADER + self.len)
            .map_err(io)?;
        // Synced, renamed into place, the folder synced; on failure removed.
        file.commit().map_err(io)
    }
}

impl Write for SealedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pos > self.len {
            // The gap would hold raw zeros, not ciphertext.
            return Err(std::io::Error::other(
                "encrypted archive: write past the end after a seek",
            ));
        }
        let end = self.pos.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > MAX_PLAINTEXT) {
            return Err(std::io::Error::other(
                "archive too large for AES-GCM (more than 64 GiB)",
            ));
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(buf);
        // Keystream block 0 masks the tag; the plaintext starts at block 1.
        self.ctr
            .try_seek(16 + self.pos)
            .map_err(|_| std::io::Error::other("archive too large for AES-GCM"))?;
        self.ctr
            .try_apply_keystream(&mut self.scratch)
            .map_err(|_| std::io::Error::other("archive too large for AES-GCM"))?;
        self.file_ref()?
            .write_all_at(&self.scratch, HEADER + self.pos)?;
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for SealedFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn same_bytes_as_one_shot_encryption_with_seeks() -> TestResult {
        let dir = tempfile::tempdir()?;
        for len in [0usize, 1, 15, 16, 17, 100_000, 200_003] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let salt = [7u8; SALT];
            let nonce = [9u8; NONCE];
            let path = dir.path().join(format!("x{len}.zip.enc"));
            let key = zeroize::Zeroizing::new([len as u8; 32]);
            let mut f = SealedFile::create_with_key(&path, key.clone(), salt, nonce)?;
            // Write garbage first, then overwrite it after a seek (as the zip writer
            // patches its headers).
            let cut = len / 3;
            f.write_all(&plain[..cut])?;
            f.write_all(&vec![0xAA; len - cut])?;
            f.seek(SeekFrom::Start(cut as u64))?;
            for piece in plain[cut..].chunks(4097) {
                f.write_all(piece)?;
            }
            f.commit()?;
            let got = std::fs::read(&path)?;
            let want = crate::crypto::seal_with_key(&key, salt, nonce, &plain)
                .ok_or("one-shot encryption")?;
            assert_eq!(got, want, "length {len}");
        }
        // With the passphrase: the reference's decryption reads it back.
        let plain = b"PK zip bytes".repeat(1000);
        let path = dir.path().join("p.zip.enc");
        let mut f = SealedFile::create_with(&path, b"pass", [1; SALT], [2; NONCE])?;
        f.write_all(&plain)?;
        f.commit()?;
        let back = crate::crypto::decrypt(b"pass", &std::fs::read(&path)?).ok_or("decrypt")?;
        assert_eq!(back.as_slice(), plain.as_slice());
        Ok(())
    }

    /// One step of a writer: write `len` bytes (made from `fill`) at the current
    /// position, or seek to `frac` of the length so far, by one of the three `whence`.
    #[derive(Debug, Clone)]
    enum Op {
        Write { len: usize, fill: u8 },
        Seek { frac: f64, whence: u8 },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            // Short writes (headers, patches) and long ones (across 64 KiB).
            (0usize..64, any::<u8>()).prop_map(|(len, fill)| Op::Write { len, fill }),
            (0usize..40_000, any::<u8>()).prop_map(|(len, fill)| Op::Write { len, fill }),
            (0.0f64..=1.0, 0u8..3).prop_map(|(frac, whence)| Op::Seek { frac, whence }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Differential: any sequence of writes and seeks back (as the zip writer
        /// patches headers) gives the bytes of `aes-gcm`'s one-shot encryption of
        /// the final plaintext, and `aes-gcm` decrypts it back.
        #[test]
        fn streaming_equals_one_shot_with_random_writes_and_seeks(
            ops in proptest::collection::vec(op(), 0..12),
            key in proptest::prelude::any::<[u8; 32]>(),
            nonce in proptest::prelude::any::<[u8; NONCE]>(),
        ) {
            use aes_gcm::aead::{Aead, KeyInit};
            use proptest::test_runner::TestCaseError;
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("a.zip.enc");
            let salt = [3u8; SALT];
            let mut f = SealedFile::create_with_key(&path, zeroize::Zeroizing::new(key), salt, nonce)?;
            // The model: the plaintext a plain file would hold.
            let mut model: Vec<u8> = Vec::new();
            let mut pos = 0usize;
            for op in &ops {
                match *op {
                    Op::Write { len, fill } => {
                        let bytes: Vec<u8> =
                            (0..len).map(|i| (i as u8).wrapping_mul(31) ^ fill).collect();
                        f.write_all(&bytes)?;
                        let end = pos + len;
                        if model.len() < end {
                            model.resize(end, 0);
                        }
                        model[pos..end].copy_from_slice(&bytes);
                        pos = end;
                    }
                    Op::Seek { frac, whence } => {
                        let target = (model.len() as f64 * frac) as usize;
                        let got = match whence {
                            0 => f.seek(SeekFrom::Start(target as u64))?,
                            1 => f.seek(SeekFrom::Current(target as i64 - pos as i64))?,
                            _ => f.seek(SeekFrom::End(target as i64 - model.len() as i64))?,
                        };
                        proptest::prop_assert_eq!(got, target as u64);
                        pos = target;
                    }
                }
            }
            f.commit()?;
            let got = std::fs::read(&path)?;
            let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key)?;
            let body = cipher
                .encrypt(aes_gcm::Nonce::from_slice(&nonce), model.as_slice())
                .map_err(|e| TestCaseError::fail(format!("one-shot encryption: {e}")))?;
            proptest::prop_assert_eq!(&got[..SALT], &salt[..]);
            proptest::prop_assert_eq!(&got[SALT..SALT + NONCE], &nonce[..]);
            proptest::prop_assert!(got[SALT + NONCE..] == body[..], "ciphertext or tag differs");
            let back = cipher
                .decrypt(aes_gcm::Nonce::from_slice(&nonce), &got[SALT + NONCE..])
                .map_err(|e| TestCaseError::fail(format!("one-shot decryption: {e}")))?;
            proptest::prop_assert!(back == model, "decrypted plaintext differs");
        }
    }

    #[test]
    fn a_write_past_the_end_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.zip.enc");
        let mut f = SealedFile::create_with_key(
            &path,
            zeroize::Zeroizing::new([1; 32]),
            [0; SALT],
            [0; NONCE],
        )?;
        f.write_all(b"abc")?;
        f.seek(SeekFrom::Start(10))?;
        let err = f
            .write(b"x")
            .err()
            .ok_or("a gap of raw zeros was accepted")?;
        assert!(err.to_string().contains("past the end"), "{err}");
        f.seek(SeekFrom::Start(MAX_PLAINTEXT - 1))?;
        assert!(f.write(b"x").is_err());
        Ok(())
    }

    #[test]
    fn dropped_before_commit_leaves_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.zip.enc");
        let mut f = SealedFile::create(&path, b"pass")?;
        f.write_all(b"secret")?;
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        Ok(())
    }
}
