//! The reference's encrypted-archive format, byte-compatible:
//! `salt(16) ‖ nonce(12) ‖ AES-256-GCM(ciphertext ‖ tag(16))`, key =
//! PBKDF2-HMAC-SHA256(passphrase, salt, 480 000 iterations, 32 bytes), no AAD.
//!
//! Key material is wiped from memory when dropped: the passphrase and the derived
//! key are held in [`Zeroizing`], the cipher's key schedule is zeroised on drop
//! (the `zeroize` features of `aes` and `aes-gcm`), and so is decrypted plaintext.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
pub use zeroize::Zeroizing;

/// PBKDF2 iterations.
pub const ITERATIONS: u32 = 480_000;
const SALT: usize = 16;
const NONCE: usize = 12;
const TAG: usize = 16;

/// The environment variable holding the passphrase.
pub const KEY_ENV: &str = "SNAPSHOT_ENCRYPTION_KEY";

/// The passphrase from `var` (the UTF-8 bytes of its value), wiped from memory
/// when dropped; `None` when unset or empty.
pub fn passphrase_from_env(var: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = std::env::var_os(var)?.into_encoded_bytes();
    (!bytes.is_empty()).then(|| Zeroizing::new(bytes))
}

fn derive(passphrase: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, iterations, key.as_mut());
    key
}

/// The AES key for `passphrase` and `salt` (for the streaming writer).
pub(crate) fn derive_key(passphrase: &[u8], salt: &[u8]) -> Zeroizing<[u8; 32]> {
    derive(passphrase, salt, ITERATIONS)
}

/// A fresh random salt and nonce.
pub(crate) fn fresh_salt_and_nonce() -> ([u8; SALT], [u8; NONCE]) {
    let mut salt = [0u8; SALT];
    OsRng.fill_bytes(&mut salt);
    let mut nonce = [0u8; NONCE];
    OsRng.fill_bytes(&mut nonce);
    (salt, nonce)
}

/// Encrypt `plaintext` with `passphrase` into the reference's layout. Holds the
/// whole ciphertext in memory: `fabric exchange pack --encrypt` streams instead
/// (same bytes, see `sealed_file`).
pub fn encrypt(passphrase: &[u8], plaintext: &[u8]) -> Option<Vec<u8>> {
    encrypt_with_iterations(passphrase, plaintext, ITERATIONS)
}

/// [`encrypt`] with another PBKDF2 iteration count. Only [`ITERATIONS`] makes a
/// file the reference (and [`decrypt`]) can read; a lower count is for tests and
/// fuzzing, where 480,000 iterations per call would dominate.
pub fn encrypt_with_iterations(
    passphrase: &[u8],
    plaintext: &[u8],
    iterations: u32,
) -> Option<Vec<u8>> {
    let (salt, nonce) = fresh_salt_and_nonce();
    seal_with_key(
        &derive(passphrase, &salt, iterations),
        salt,
        nonce,
        plaintext,
    )
}

/// [`encrypt`] with a derived key, salt and nonce given.
pub(crate) fn seal_with_key(
    key: &[u8; 32],
    salt: [u8; SALT],
    nonce: [u8; NONCE],
    plaintext: &[u8],
) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let body = cipher.encrypt(Nonce::from_slice(&nonce), plaintext).ok()?;
    let mut out = Vec::with_capacity(SALT + NONCE + body.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Some(out)
}

/// Decrypt `data`; `None` for a wrong passphrase or a corrupted file. The result
/// is zeroised when dropped.
pub fn decrypt(passphrase: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    decrypt_with_iterations(passphrase, data, ITERATIONS)
}

/// [`decrypt`] with another PBKDF2 iteration count (the counterpart of
/// [`encrypt_with_iterations`]; tests and fuzzing only).
pub fn decrypt_with_iterations(
    passphrase: &[u8],
    data: &[u8],
    iterations: u32,
) -> Option<Zeroizing<Vec<u8>>> {
    if data.len() < SALT + NONCE + TAG {
        return None;
    }
    let (salt, rest) = data.split_at(SALT);
    let (nonce, body) = rest.split_at(NONCE);
    let key = derive(passphrase, salt, iterations);
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).ok()?;
    cipher
        .decrypt(Nonce::from_slice(nonce), body)
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time checks that every holder of key material wipes it on drop.
    #[test]
    fn key_material_is_zeroised_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<aes::Aes256>();
        wiped_on_drop::<Zeroizing<[u8; 32]>>();
        wiped_on_drop::<Zeroizing<Vec<u8>>>();
        let key: Zeroizing<[u8; 32]> = derive(b"pass", &[0u8; SALT], 1);
        assert_ne!(*key, [0u8; 32]);
        // The passphrase reader hands out a wiping buffer.
        let from_env: Option<Zeroizing<Vec<u8>>> = passphrase_from_env("FABRIC_TEST_UNSET_KEY");
        assert!(from_env.is_none());
    }

    #[test]
    fn round_trip_and_wrong_key() {
        let data = encrypt(b"pass", b"hello zip").unwrap_or_default();
        assert_eq!(data.len(), 16 + 12 + 9 + 16);
        assert_eq!(
            decrypt(b"pass", &data).map(|p| p.to_vec()),
            Some(b"hello zip".to_vec())
        );
        assert!(decrypt(b"other", &data).is_none());
        assert!(decrypt(b"pass", &data[..20]).is_none());
    }
}
