//! Consensus key files: the 32-byte ed25519 seed as 64 hex digits and a newline, mode 0600.
//! Separate from ML-DSA account keys (poai_crypto::keyfile): a validator's consensus key signs
//! votes and identifies it on p2p; its account receives fees.

use anyhow::{Context, Result};
use commonware_codec::DecodeExt as _;
use commonware_cryptography::ed25519::PrivateKey;
use std::io::Write as _;
use std::path::Path;

/// Reads a consensus key file.
pub fn read(path: &Path) -> Result<PrivateKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading consensus key {}", path.display()))?;
    let seed = poai_primitives::hexfmt::decode_array::<32>(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "consensus key {}: expected 64 hex digits: {e}",
            path.display()
        )
    })?;
    PrivateKey::decode(seed.to_vec())
        .map_err(|e| anyhow::anyhow!("consensus key {}: {e}", path.display()))
}

/// Writes a new random consensus key to `path` (mode 0600; refuses to overwrite).
pub fn generate(path: &Path) -> Result<PrivateKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating consensus key {}", path.display()))?;
    f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let key = PrivateKey::decode(seed.to_vec()).map_err(|e| anyhow::anyhow!("{e}"))?;
    seed.fill(0);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;

    #[test]
    fn generated_key_reads_back_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.key");
        let k = generate(&p).unwrap();
        assert_eq!(read(&p).unwrap().public_key(), k.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(generate(&p).is_err(), "overwrote an existing key");
        std::fs::write(&p, "zz\n").unwrap();
        assert!(read(&p).is_err());
    }
}
