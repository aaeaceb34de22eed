//! Trust anchors: pinned vendor roots (compiled in, see `roots/README.md`) and the Arm CCA
//! platform keys registered on chain.
//!
//! Roots can only be replaced by the `test-pki` feature, which release builds refuse (lib.rs),
//! so production code has no way to trust anything but the pinned certificates.

use crate::error::TeeError;
use crate::x509::{Curve, EcKey};
use base64::Engine;
use serde::Deserialize;

const NVIDIA_ROOT: &[u8] = include_bytes!("../roots/nvidia_device_identity_ca.der");
const INTEL_ROOT: &[u8] = include_bytes!("../roots/intel_sgx_root_ca.der");

/// AMD roots of one product line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdRoots {
    /// Product name as the ASK's common name spells it (`Milan`, `Genoa`, `Turin`).
    pub product: String,
    /// AMD Root Key.
    pub ark: Vec<u8>,
    /// AMD SEV Key (signs VCEKs).
    pub ask: Vec<u8>,
    /// AMD SEV VLEK key (signs VLEKs).
    pub asvk: Vec<u8>,
}

/// A registered Arm CCA platform attestation key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcaPlatformKey {
    /// The platform instance id this key belongs to; `None` accepts any instance id (a key the
    /// caller chose for one token, as the CLI's `--chain` does).
    pub instance_id: Option<Vec<u8>>,
    pub(crate) key: EcKey,
}

/// The anchors a verification trusts.
#[derive(Debug, Clone)]
pub struct TrustStore {
    pub(crate) nvidia_root: Vec<u8>,
    pub(crate) intel_root: Vec<u8>,
    pub(crate) amd: Vec<AmdRoots>,
    pub(crate) cca: Vec<CcaPlatformKey>,
}

impl Default for TrustStore {
    fn default() -> Self {
        Self::pinned()
    }
}

impl TrustStore {
    /// The pinned production roots and no CCA platform keys.
    pub fn pinned() -> Self {
        let amd = |product: &str, ark: &[u8], ask: &[u8], asvk: &[u8]| AmdRoots {
            product: product.into(),
            ark: ark.to_vec(),
            ask: ask.to_vec(),
            asvk: asvk.to_vec(),
        };
        Self {
            nvidia_root: NVIDIA_ROOT.to_vec(),
            intel_root: INTEL_ROOT.to_vec(),
            amd: vec![
                amd(
                    "Milan",
                    include_bytes!("../roots/amd_milan_ark.der"),
                    include_bytes!("../roots/amd_milan_ask.der"),
                    include_bytes!("../roots/amd_milan_asvk.der"),
                ),
                amd(
                    "Genoa",
                    include_bytes!("../roots/amd_genoa_ark.der"),
                    include_bytes!("../roots/amd_genoa_ask.der"),
                    include_bytes!("../roots/amd_genoa_asvk.der"),
                ),
                amd(
                    "Turin",
                    include_bytes!("../roots/amd_turin_ark.der"),
                    include_bytes!("../roots/amd_turin_ask.der"),
                    include_bytes!("../roots/amd_turin_asvk.der"),
                ),
            ],
            cca: Vec::new(),
        }
    }

    /// Registers a CCA platform key (uncompressed SEC1 point on P-256 or P-384).
    pub fn register_cca_platform(
        &mut self,
        instance_id: Option<Vec<u8>>,
        sec1_point: &[u8],
    ) -> Result<(), TeeError> {
        let curve = match sec1_point.len() {
            65 => Curve::P256,
            97 => Curve::P384,
            n => {
                return Err(TeeError::cca(
                    "platform key",
                    format!("uncompressed P-256 (65) or P-384 (97) point expected, got {n} bytes"),
                ));
            }
        };
        self.cca.push(CcaPlatformKey {
            instance_id,
            key: EcKey {
                curve,
                point: sec1_point.to_vec(),
            },
        });
        Ok(())
    }

    /// Registers CCA platform keys from JSON: either one JWK (`{"kty":"EC","crv":..,"x":..,"y":..}`,
    /// any instance) or a list of `{"instance-id": hex, "pkey": JWK}` as veraison's
    /// trust-anchor files. Returns how many keys were added.
    pub fn register_cca_json(&mut self, json: &[u8]) -> Result<usize, TeeError> {
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            crv: String,
            x: String,
            y: String,
        }
        #[derive(Deserialize)]
        struct Anchor {
            #[serde(rename = "instance-id")]
            instance_id: String,
            pkey: Jwk,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum File {
            One(Jwk),
            Many(Vec<Anchor>),
        }
        let b64 = |s: &str, what: &'static str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|e| TeeError::cca(what, e.to_string()))
        };
        let point = |k: &Jwk| -> Result<Vec<u8>, TeeError> {
            if k.kty != "EC" || !(k.crv == "P-256" || k.crv == "P-384") {
                return Err(TeeError::cca(
                    "platform key",
                    format!("kty {} crv {} not supported", k.kty, k.crv),
                ));
            }
            let mut p = vec![4u8];
            p.extend(b64(&k.x, "platform key x")?);
            p.extend(b64(&k.y, "platform key y")?);
            Ok(p)
        };
        let file: File = serde_json::from_slice(json)
            .map_err(|e| TeeError::cca("platform key file", e.to_string()))?;
        match file {
            File::One(k) => {
                self.register_cca_platform(None, &point(&k)?)?;
                Ok(1)
            }
            File::Many(list) => {
                for a in &list {
                    // veraison writes instance ids as hex (0x01 ‖ 32 bytes).
                    let id = hex::decode(&a.instance_id)
                        .map_err(|e| TeeError::cca("instance-id", e.to_string()))?;
                    self.register_cca_platform(Some(id), &point(&a.pkey)?)?;
                }
                Ok(list.len())
            }
        }
    }

    /// The AMD roots whose ASK (or ASVK) common name is `issuer_cn`.
    pub(crate) fn amd_for_issuer(&self, issuer_cn: &str) -> Option<(&AmdRoots, bool)> {
        // VCEKs are issued by "SEV-<Product>", VLEKs by "SEV-VLEK-<Product>".
        let (product, vlek) = match issuer_cn.strip_prefix("SEV-VLEK-") {
            Some(p) => (p, true),
            None => (issuer_cn.strip_prefix("SEV-")?, false),
        };
        self.amd
            .iter()
            .find(|r| r.product == product)
            .map(|r| (r, vlek))
    }

    /// Replaces every vendor root with test roots (test PKI only).
    #[cfg(feature = "test-pki")]
    pub fn with_test_roots(nvidia_root: Vec<u8>, amd: Vec<AmdRoots>) -> Self {
        Self {
            nvidia_root,
            intel_root: INTEL_ROOT.to_vec(),
            amd,
            cca: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPAK: &str = include_str!("../../../testdata/tee/arm/ccatoken_cpak.json");
    const TA: &str = include_str!("../../../testdata/tee/arm/ccatoken_ta.json");

    #[test]
    fn loads_both_cca_key_formats() {
        let mut s = TrustStore::pinned();
        assert_eq!(s.register_cca_json(CPAK.as_bytes()).unwrap(), 1);
        assert_eq!(s.register_cca_json(TA.as_bytes()).unwrap(), 1);
        assert_eq!(s.cca.len(), 2);
        assert_eq!(s.cca[0].key.curve, Curve::P384);
        assert_eq!(s.cca[1].key.curve, Curve::P256);
        assert_eq!(s.cca[1].instance_id.as_ref().unwrap().len(), 33);
        assert!(s.register_cca_json(b"{}").is_err());
    }

    #[test]
    fn amd_products_by_issuer() {
        let s = TrustStore::pinned();
        assert_eq!(s.amd_for_issuer("SEV-Milan").unwrap().0.product, "Milan");
        assert!(s.amd_for_issuer("SEV-VLEK-Turin").unwrap().1);
        assert!(s.amd_for_issuer("SEV-Naples").is_none());
        assert!(s.amd_for_issuer("ARK-Milan").is_none());
    }
}
