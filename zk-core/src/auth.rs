//! Helpers for ACL identities.

use base64::Engine;

/// The `digest` scheme id for `user` with `password`: `user:base64(sha1("user:password"))`, as
/// Apache's `DigestAuthenticationProvider.generateDigest`.
pub fn digest_id(user: &str, password: &str) -> String {
    format!("{user}:{}", digest_hash(&format!("{user}:{password}")))
}

/// `base64(sha1(credential))`: the hash part of the digest id for a credential string.
pub fn digest_hash(credential: &str) -> String {
    let hash = sha1_smol::Sha1::from(credential).digest().bytes();
    base64::engine::general_purpose::STANDARD.encode(hash)
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_matches_apache() {
        // Apache: DigestAuthenticationProvider.generateDigest("super:test")
        assert_eq!(
            super::digest_id("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }
}
