//! ML-DSA key files.
//!
//! A key file is JSON: `{"version":1,"param_set":"ML-DSA-65","seed":"<hex>","public_key":"<hex>"}`.
//! The seed is the whole secret (FIPS 204 key generation is deterministic from it); the public
//! key is stored too so tools can show it without the secret, and it is checked against the seed
//! on load to catch a corrupted or hand-edited file.
//!
//! Files are created with mode 0600 and never overwritten unless asked; a file that group or
//! others can read is refused on load, as ssh does. Nothing here prints or logs the seed.

use crate::mldsa::{MlDsaError, ParamSet, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// Current key file format version.
pub const KEYFILE_VERSION: u32 = 1;
/// Largest key file read (a valid one is under 6 KiB).
const MAX_KEYFILE_LEN: u64 = 64 * 1024;

/// Key file errors, each naming the file.
#[derive(Debug, Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists and overwriting was not requested.
    #[error("key file {0} already exists (pass --force to overwrite)")]
    Exists(PathBuf),
    /// Group or others may read the file.
    #[error(
        "key file {path} has mode {mode:o}; it must not be readable by group or others (chmod 600)"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is larger than any key file.
    #[error("key file {0} is larger than 64 KiB; not a poai key file")]
    TooLarge(PathBuf),
    /// The JSON is malformed or a field is missing.
    #[error("key file {path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A field is present but invalid.
    #[error("key file {path}: field `{field}`: {source}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Why.
        source: MlDsaError,
    },
    /// The stored public key does not belong to the seed.
    #[error("key file {0}: public_key does not match the seed (file corrupted or edited)")]
    PublicKeyMismatch(PathBuf),
    /// An unknown format version.
    #[error("key file {path}: version {version} is not supported (expected 1)")]
    Version {
        /// The file.
        path: PathBuf,
        /// Version found.
        version: u32,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    version: u32,
    param_set: String,
    seed: String,
    public_key: String,
}

/// The public half of a key file, readable without trusting the secret.
#[derive(Debug, Clone)]
pub struct PublicKeyInfo {
    /// The public key.
    pub key: VerifyingKey,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `key` to `path`, created with mode 0600. Refuses to overwrite unless `force`.
pub fn write(path: &Path, key: &SigningKey, force: bool) -> Result<(), KeyFileError> {
    let body = KeyFileJson {
        version: KEYFILE_VERSION,
        param_set: key.param_set().name().to_owned(),
        seed: hex::encode(key.seed()),
        public_key: hex::encode(key.verifying_key().as_bytes()),
    };
    let text =
        Zeroizing::new(
            serde_json::to_string_pretty(&body).map_err(|e| KeyFileError::Format {
                path: path.to_owned(),
                message: e.to_string(),
            })?,
        );
    drop(Zeroizing::new(body.seed));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err(path))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists(path.to_owned())
        } else {
            io_err(path)(e)
        }
    })?;
    // `mode` applies only when the file is created; tighten an overwritten file too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err(path))?;
    }
    f.write_all(text.as_bytes()).map_err(io_err(path))?;
    f.write_all(b"\n").map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))?;
    Ok(())
}

fn read_json(path: &Path, check_mode: bool) -> Result<KeyFileJson, KeyFileError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    #[cfg(unix)]
    if check_mode {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = check_mode;
    if meta.len() > MAX_KEYFILE_LEN {
        return Err(KeyFileError::TooLarge(path.to_owned()));
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io_err(path))?);
    parse_json(path, &text)
}

fn parse_json(path: &Path, text: &str) -> Result<KeyFileJson, KeyFileError> {
    let json: KeyFileJson = serde_json::from_str(text).map_err(|e| KeyFileError::Format {
        path: path.to_owned(),
        // serde_json's message names the field and position, never the value.
        message: e.to_string(),
    })?;
    if json.version != KEYFILE_VERSION {
        return Err(KeyFileError::Version {
            path: path.to_owned(),
            version: json.version,
        });
    }
    Ok(json)
}

fn parse_public(path: &Path, json: &KeyFileJson) -> Result<VerifyingKey, KeyFileError> {
    let field = |field, source| KeyFileError::Field {
        path: path.to_owned(),
        field,
        source,
    };
    let param: ParamSet = json.param_set.parse().map_err(|e| field("param_set", e))?;
    let pk = hex::decode(&json.public_key).map_err(|_| KeyFileError::Format {
        path: path.to_owned(),
        message: "field `public_key` is not hex".into(),
    })?;
    VerifyingKey::from_bytes(param, &pk).map_err(|e| field("public_key", e))
}

/// Reads a signing key. Refuses files readable by group or others.
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    let json = read_json(path, true)?;
    key_from_json(path, json)
}

/// Parses key-file text (already read; `path` only names it in errors). For fuzzing and tools
/// that hold the text in memory.
pub fn parse(path: &Path, text: &str) -> Result<SigningKey, KeyFileError> {
    if text.len() as u64 > MAX_KEYFILE_LEN {
        return Err(KeyFileError::TooLarge(path.to_owned()));
    }
    key_from_json(path, parse_json(path, text)?)
}

fn key_from_json(path: &Path, json: KeyFileJson) -> Result<SigningKey, KeyFileError> {
    let public = parse_public(path, &json)?;
    let seed = Zeroizing::new(hex::decode(&json.seed).map_err(|_| KeyFileError::Format {
        path: path.to_owned(),
        message: "field `seed` is not hex".into(),
    })?);
    drop(Zeroizing::new(json.seed));
    let key =
        SigningKey::from_seed(public.param_set(), &seed).map_err(|e| KeyFileError::Field {
            path: path.to_owned(),
            field: "seed",
            source: e,
        })?;
    if key.verifying_key() != &public {
        return Err(KeyFileError::PublicKeyMismatch(path.to_owned()));
    }
    Ok(key)
}

/// Reads only the public key of a key file (no permission check: nothing secret is used).
pub fn read_public(path: &Path) -> Result<PublicKeyInfo, KeyFileError> {
    let json = read_json(path, false)?;
    drop(Zeroizing::new(json.seed.clone()));
    let key = parse_public(path, &json)?;
    drop(Zeroizing::new(json.seed));
    Ok(PublicKeyInfo { key })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_mode_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/miner.key");
        let key = SigningKey::from_seed(ParamSet::MlDsa65, &[5; 32]).unwrap();
        write(&path, &key, false).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = read(&path).unwrap();
        assert_eq!(back.verifying_key(), key.verifying_key());
        assert_eq!(back.seed(), key.seed());
        assert_eq!(read_public(&path).unwrap().key, *key.verifying_key());

        assert!(matches!(
            write(&path, &key, false),
            Err(KeyFileError::Exists(_))
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read(&path),
            Err(KeyFileError::InsecurePermissions { mode: 0o644, .. })
        ));
        // Overwriting with force restores 0600.
        write(&path, &key, true).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // A public key that does not match the seed.
        let other = SigningKey::from_seed(ParamSet::MlDsa65, &[6; 32]).unwrap();
        let text = fs::read_to_string(&path).unwrap().replace(
            &hex::encode(key.verifying_key().as_bytes()),
            &hex::encode(other.verifying_key().as_bytes()),
        );
        fs::write(&path, text).unwrap();
        assert!(matches!(
            read(&path),
            Err(KeyFileError::PublicKeyMismatch(_))
        ));

        fs::write(&path, "{\"version\":2}").unwrap();
        assert!(matches!(read(&path), Err(KeyFileError::Format { .. })));
    }

    #[test]
    fn errors_never_contain_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[0xab; 32]).unwrap();
        write(&path, &key, false).unwrap();
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("ML-DSA-44", "ML-DSA-99");
        fs::write(&path, text).unwrap();
        let msg = read(&path).unwrap_err().to_string();
        assert!(msg.contains("param_set"), "{msg}");
        assert!(!msg.contains("abab"), "{msg}");
    }
}
