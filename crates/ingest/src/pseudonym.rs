//! Keyed pseudonyms for participant references.
//!
//! A provider's reference is replaced by `P` + the first 20 hex digits of
//! HMAC-SHA-256(key, lot code ‖ 0x1F ‖ reference). The same person in the MI and in the claims
//! gets the same pseudonym (so the two join), references from different lots never collide by
//! construction, and without the key nobody can go back from the pseudonym to the reference or
//! test a guessed reference against it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The environment variable holding the pseudonymisation key for real extracts.
pub const KEY_ENV: &str = "EVALPIPE_PSEUDONYM_KEY";

/// The fixed key used for the synthetic twin only. It is public, so pseudonyms made with it
/// protect nothing: ingest refuses it for data without the synthetic marker.
pub const SYNTHETIC_KEY: &str = "evalpipe synthetic twin: public key, not for real data";

/// A pseudonymisation key.
#[derive(Clone)]
pub struct PseudonymKey {
    synthetic: bool,
    /// The HMAC keyed once (the key itself is kept nowhere else): keying hashes the key's inner
    /// and outer pads, which per pseudonym was half of the hashing, and a clone of this state
    /// is the same HMAC, started.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key itself.
        f.debug_struct("PseudonymKey")
            .field("synthetic", &self.synthetic)
            .finish_non_exhaustive()
    }
}

impl PseudonymKey {
    /// A key from secret bytes (environment variable or key file). At least 16 bytes. The
    /// public synthetic key is recognised by its bytes, however it was passed, so it is refused
    /// on real data even when someone copies it into the variable or a key file.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        let trimmed: Vec<u8> = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
        let synthetic = trimmed == SYNTHETIC_KEY.as_bytes();
        (trimmed.len() >= 16).then(|| PseudonymKey {
            keyed: keyed(&trimmed),
            synthetic,
        })
    }

    /// The documented public key of the synthetic twin.
    pub fn synthetic() -> Self {
        PseudonymKey {
            synthetic: true,
            keyed: keyed(SYNTHETIC_KEY.as_bytes()),
        }
    }

    /// Whether this is the public synthetic key.
    pub fn is_synthetic(&self) -> bool {
        self.synthetic
    }

    /// The pseudonym of `reference` in `lot`.
    pub fn pseudonym(&self, lot: &str, reference: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(lot.as_bytes());
        mac.update(&[0x1F]);
        mac.update(reference.trim().as_bytes());
        let digest = mac.finalize().into_bytes();
        // `P` and the first 20 hex digits (10 bytes) of the digest, written in place.
        let mut text = [b'P'; 21];
        hex::encode_to_slice(&digest[..10], &mut text[1..]).expect("20 digits for 10 bytes");
        String::from_utf8(text.to_vec()).expect("ASCII")
    }
}

/// HMAC-SHA-256 keyed with `key` (any length: this cannot fail).
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_lot_scoped() {
        let a = PseudonymKey::new(b"0123456789abcdef-secret".to_vec()).unwrap();
        let b = PseudonymKey::new(b"another key of 16+ bytes".to_vec()).unwrap();
        let p = a.pseudonym("L4", "WWH-000123");
        assert_eq!(p.len(), 21);
        assert!(p.starts_with('P'));
        assert_eq!(p, a.pseudonym("L4", " WWH-000123 "));
        assert_ne!(p, a.pseudonym("L6", "WWH-000123"));
        assert_ne!(p, b.pseudonym("L4", "WWH-000123"));
        assert!(!p.contains("000123"));
    }

    /// A pseudonym is a contract across refreshes (`diff` and the evaluators' own linking rely
    /// on it): pinned to values computed outside evalpipe, with Python's `hmac` module:
    /// `"P" + hmac.new(key, b"L4\x1fWWH-000123", sha256).hexdigest()[:20]`. The key is keyed
    /// once and cloned per pseudonym, so two in a row must not share state either.
    #[test]
    fn pseudonyms_are_hmac_sha256_as_computed_elsewhere() {
        let a = PseudonymKey::new(b"0123456789abcdef-secret".to_vec()).unwrap();
        assert_eq!(a.pseudonym("L4", "WWH-000123"), "Pb73e9512eb32189ac3b4");
        assert_eq!(a.pseudonym("L4", "WWH-000123"), "Pb73e9512eb32189ac3b4");
        assert_eq!(
            PseudonymKey::synthetic().pseudonym("L1", "CC-0001"),
            "P4e0b1e4ec7614d0f064a"
        );
    }

    #[test]
    fn the_public_key_is_known_by_its_bytes_however_it_is_passed() {
        for passed in [
            SYNTHETIC_KEY.to_string(),
            format!("  {SYNTHETIC_KEY}\n"),
            format!("{SYNTHETIC_KEY}\r\n"),
        ] {
            let key = PseudonymKey::new(passed.into_bytes()).unwrap();
            assert!(key.is_synthetic());
            assert_eq!(
                key.pseudonym("L4", "WWH-1"),
                PseudonymKey::synthetic().pseudonym("L4", "WWH-1")
            );
        }
        assert!(
            !PseudonymKey::new(b"a real secret, long enough".to_vec())
                .unwrap()
                .is_synthetic()
        );
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(PseudonymKey::new(b"short".to_vec()).is_none());
    }
}
