//! Consensus key files as commonware keys. The file format and its checks (64 hex digits of the
//! ed25519 seed, mode 0600) live in `poai_node::validator_cli`, shared with `poai validator key`.

use anyhow::Result;
use commonware_codec::DecodeExt as _;
use commonware_cryptography::ed25519::PrivateKey;
use std::path::Path;

/// Reads a consensus key file.
pub fn read(path: &Path) -> Result<PrivateKey> {
    let seed = poai_node::validator_cli::read_key(path)?;
    PrivateKey::decode(seed.to_vec())
        .map_err(|e| anyhow::anyhow!("consensus key {}: {e}", path.display()))
}

/// Writes a new random consensus key file (mode 0600; refuses to overwrite) and reads it back.
pub fn generate(path: &Path) -> Result<PrivateKey> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    poai_node::validator_cli::write_key(path)?;
    read(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Encode as _;
    use commonware_cryptography::Signer as _;

    #[test]
    fn commonware_key_matches_the_chains_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.key");
        let k = generate(&p).unwrap();
        let seed = poai_node::validator_cli::read_key(&p).unwrap();
        // The key the chain's proof of possession is checked against is the one simplex signs with.
        assert_eq!(
            k.public_key().encode().to_vec(),
            poai_chain::validator::consensus_public_key(&seed).to_vec()
        );
        assert!(generate(&p).is_err(), "overwrote an existing key");
    }
}
