//! Arm CCA attestation tokens (Arm DEN0137 "Realm Management Monitor specification", attestation
//! token format; draft-ffm-rats-cca-token): a CBOR collection (tag 399, or the CMW tag 907 whose
//! entries are `[263, token]`) holding two COSE_Sign1 messages (RFC 9052):
//!
//! | key | token | signed by | claims used here |
//! |---|---|---|---|
//! | 44234 | platform | CPAK (registered per device) | 10 challenge, 256 instance id, 2396 implementation id, 2395 lifecycle, 2399 software components, 2400 config |
//! | 44241 | realm | RAK, carried in claim 44237 | 10 challenge (64 bytes, the freshness field), 44237 RAK, 44236 RAK hash algorithm, 44238 RIM, 44239 REMs, 44235 personalization |
//!
//! Verification: the platform token's signature under a registered platform key for its
//! instance id; the realm token's signature under its RAK; the platform challenge equals the
//! hash of the RAK claim (the platform vouches for the realm key); the realm challenge binds the
//! nonce (SPEC section 5); the platform lifecycle is "secured" (0x3000..=0x30FF, PSA security
//! lifecycle; the debug states 0x4000..=0x5FFF are refused as debug). ES256 and ES384 are accepted, through aws-lc-rs.

use crate::attestation::{Attestation, Facts, no_revocation};
use crate::envelope::EvidenceKind;
use crate::error::TeeError;
use crate::freshness::{self, Freshness};
use crate::trust::TrustStore;
use crate::x509::{Curve, EcKey};
use aws_lc_rs::digest;
use ciborium::Value;
use coset::{
    CborSerializable, CoseSign1, RegisteredLabelWithPrivate, TaggedCborSerializable, iana,
};
use poai_primitives::{DeviceId, PrivacyLevel};
use std::collections::BTreeMap;

const TAG_COLLECTION: u64 = 399;
const TAG_CMW: u64 = 907;
const TAG_CWT_COAP: i128 = 263;
const KEY_PLATFORM: i128 = 44234;
const KEY_REALM: i128 = 44241;

const CLAIM_CHALLENGE: i128 = 10;
const CLAIM_INSTANCE_ID: i128 = 256;
const CLAIM_IMPLEMENTATION_ID: i128 = 2396;
const CLAIM_LIFECYCLE: i128 = 2395;
const CLAIM_CONFIG: i128 = 2400;
const CLAIM_SW_COMPONENTS: i128 = 2399;
const CLAIM_RAK: i128 = 44237;
const CLAIM_RIM: i128 = 44238;
const CLAIM_REMS: i128 = 44239;
const CLAIM_PERSONALIZATION: i128 = 44235;

/// A decoded (not yet verified) CCA token.
#[derive(Debug, Clone)]
pub struct CcaToken {
    platform: CoseSign1,
    realm: CoseSign1,
    platform_claims: Vec<(Value, Value)>,
    realm_claims: Vec<(Value, Value)>,
}

fn decode_exact(bytes: &[u8], field: &'static str) -> Result<Value, TeeError> {
    let mut rest = bytes;
    let v: Value =
        ciborium::de::from_reader(&mut rest).map_err(|e| TeeError::cca(field, e.to_string()))?;
    if !rest.is_empty() {
        return Err(TeeError::cca(
            field,
            format!("{} trailing bytes", rest.len()),
        ));
    }
    Ok(v)
}

fn int_key(v: &Value) -> Option<i128> {
    v.as_integer().map(i128::from)
}

fn claim(claims: &[(Value, Value)], key: i128) -> Option<&Value> {
    claims
        .iter()
        .find(|(k, _)| int_key(k) == Some(key))
        .map(|(_, v)| v)
}

fn bytes_claim<'a>(
    claims: &'a [(Value, Value)],
    key: i128,
    field: &'static str,
) -> Result<&'a [u8], TeeError> {
    claim(claims, key)
        .and_then(Value::as_bytes)
        .map(Vec::as_slice)
        .ok_or_else(|| TeeError::cca(field, "missing or not a byte string"))
}

fn sign1(bytes: &[u8], field: &'static str) -> Result<(CoseSign1, Vec<(Value, Value)>), TeeError> {
    let msg = CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|e| TeeError::cca(field, format!("not a COSE_Sign1: {e}")))?;
    let payload = msg
        .payload
        .as_deref()
        .ok_or_else(|| TeeError::cca(field, "detached payload"))?;
    let claims = match decode_exact(payload, field)? {
        Value::Map(m) => m,
        _ => return Err(TeeError::cca(field, "claims are not a map")),
    };
    let mut seen: Vec<i128> = Vec::with_capacity(claims.len());
    for (k, _) in &claims {
        let k = int_key(k).ok_or_else(|| TeeError::cca(field, "non-integer claim key"))?;
        if seen.contains(&k) {
            return Err(TeeError::cca(field, format!("claim {k} repeated")));
        }
        seen.push(k);
    }
    Ok((msg, claims))
}

/// Decodes a CCA token collection.
pub fn parse_token(bytes: &[u8]) -> Result<CcaToken, TeeError> {
    let (tag, inner) = match decode_exact(bytes, "collection")? {
        Value::Tag(t, v) => (t, *v),
        _ => return Err(TeeError::cca("collection", "expected CBOR tag 399 or 907")),
    };
    if tag != TAG_COLLECTION && tag != TAG_CMW {
        return Err(TeeError::cca(
            "collection",
            format!("tag {tag}, expected 399 or 907"),
        ));
    }
    let Value::Map(entries) = inner else {
        return Err(TeeError::cca("collection", "expected a map"));
    };
    let mut platform = None;
    let mut realm = None;
    for (k, v) in entries {
        let slot = match int_key(&k) {
            Some(KEY_PLATFORM) => &mut platform,
            Some(KEY_REALM) => &mut realm,
            _ => return Err(TeeError::cca("collection", "unknown key")),
        };
        let body = match (tag, v) {
            (TAG_COLLECTION, Value::Bytes(b)) => b,
            (TAG_CMW, Value::Array(a)) => match a.as_slice() {
                [t, Value::Bytes(b)] if int_key(t) == Some(TAG_CWT_COAP) => b.clone(),
                _ => return Err(TeeError::cca("collection", "expected [263, token]")),
            },
            _ => return Err(TeeError::cca("collection", "token is not a byte string")),
        };
        if slot.replace(body).is_some() {
            return Err(TeeError::cca("collection", "token repeated"));
        }
    }
    let platform = platform.ok_or_else(|| TeeError::cca("platform token", "missing"))?;
    let realm = realm.ok_or_else(|| TeeError::cca("realm token", "missing"))?;
    let (platform, platform_claims) = sign1(&platform, "platform token")?;
    let (realm, realm_claims) = sign1(&realm, "realm token")?;
    Ok(CcaToken {
        platform,
        realm,
        platform_claims,
        realm_claims,
    })
}

fn curve_of(msg: &CoseSign1, field: &'static str) -> Result<Curve, TeeError> {
    match msg.protected.header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => Ok(Curve::P256),
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384)) => Ok(Curve::P384),
        ref other => Err(TeeError::cca(
            field,
            format!("algorithm {other:?} not supported (ES256 or ES384)"),
        )),
    }
}

fn verify_sign1(msg: &CoseSign1, key: &EcKey) -> bool {
    msg.verify_signature(b"", |sig, data| {
        if key.verify_fixed(data, sig) {
            Ok(())
        } else {
            Err(())
        }
    })
    .is_ok()
}

fn rak_key(raw: &[u8], curve: Curve) -> Result<EcKey, TeeError> {
    let expected = match curve {
        Curve::P256 => 65,
        Curve::P384 => 97,
    };
    if raw.len() == expected && raw.first() == Some(&4) {
        return Ok(EcKey {
            curve,
            point: raw.to_vec(),
        });
    }
    // Newer profiles carry the RAK as a COSE_Key.
    let k = coset::CoseKey::from_slice(raw).map_err(|e| {
        TeeError::cca(
            "realm public key",
            format!("neither a point nor a COSE_Key: {e}"),
        )
    })?;
    let param = |label: i64| {
        k.params
            .iter()
            .find(|(l, _)| *l == coset::Label::Int(label))
            .and_then(|(_, v)| v.as_bytes())
    };
    let (x, y) = param(-2)
        .zip(param(-3))
        .ok_or_else(|| TeeError::cca("realm public key", "COSE_Key without x and y"))?;
    let mut point = vec![4u8];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    if point.len() != expected {
        return Err(TeeError::cca(
            "realm public key",
            "wrong size for the realm algorithm",
        ));
    }
    Ok(EcKey { curve, point })
}

/// Verifies a CCA token.
pub(crate) fn verify(
    bytes: &[u8],
    store: &TrustStore,
    freshness: &Freshness,
) -> Result<Attestation, TeeError> {
    let t = parse_token(bytes)?;
    let realm_challenge = bytes_claim(&t.realm_claims, CLAIM_CHALLENGE, "realm challenge")?;
    freshness::check(
        EvidenceKind::Cca,
        freshness,
        "realm challenge",
        realm_challenge,
    )?;
    let instance_id = bytes_claim(&t.platform_claims, CLAIM_INSTANCE_ID, "instance id")?;
    let lifecycle = claim(&t.platform_claims, CLAIM_LIFECYCLE)
        .and_then(Value::as_integer)
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| TeeError::cca("security lifecycle", "missing or not an integer"))?;
    // Platform signature under a registered key for this instance.
    let curve = curve_of(&t.platform, "platform token")?;
    let candidates: Vec<&EcKey> = store
        .cca
        .iter()
        .filter(|k| k.instance_id.as_deref().is_none_or(|id| id == instance_id))
        .map(|k| &k.key)
        .filter(|k| k.curve == curve)
        .collect();
    if candidates.is_empty() {
        return Err(TeeError::CcaUnknownPlatform(hex::encode(instance_id)));
    }
    if !candidates.iter().any(|k| verify_sign1(&t.platform, k)) {
        return Err(TeeError::ReportSignature("CCA platform token"));
    }
    // Realm signature under its own RAK, and the platform's endorsement of that RAK.
    let realm_curve = curve_of(&t.realm, "realm token")?;
    let rak_raw = bytes_claim(&t.realm_claims, CLAIM_RAK, "realm public key")?;
    let rak = rak_key(rak_raw, realm_curve)?;
    if !verify_sign1(&t.realm, &rak) {
        return Err(TeeError::ReportSignature("CCA realm token"));
    }
    let platform_challenge =
        bytes_claim(&t.platform_claims, CLAIM_CHALLENGE, "platform challenge")?;
    // The binding needs a collision-resistant hash of the RAK; the challenge's length names the
    // SHA-2 function. (Claim 44236 should name it too, but veraison's legacy sample token 02
    // hashes with the realm hash algorithm, claim 44240, instead.)
    let alg = match platform_challenge.len() {
        32 => &digest::SHA256,
        48 => &digest::SHA384,
        64 => &digest::SHA512,
        n => {
            return Err(TeeError::cca(
                "platform challenge",
                format!("{n} bytes is not a SHA-256/384/512 digest"),
            ));
        }
    };
    if digest::digest(alg, rak_raw).as_ref() != platform_challenge {
        return Err(TeeError::CcaBindingMismatch);
    }
    if (0x4000..=0x5FFF).contains(&lifecycle) {
        // PSA lifecycle: non-PSA-RoT debug (0x4000) and recoverable PSA-RoT debug (0x5000).
        return Err(TeeError::DebugEnabled("cca"));
    }
    if !(0x3000..=0x30FF).contains(&lifecycle) {
        return Err(TeeError::CcaLifecycle(lifecycle));
    }
    let mut measurements = BTreeMap::new();
    if let Ok(rim) = bytes_claim(&t.realm_claims, CLAIM_RIM, "rim") {
        measurements.insert("rim".into(), hex::encode(rim));
    }
    if let Some(Value::Array(rems)) = claim(&t.realm_claims, CLAIM_REMS) {
        for (i, r) in rems.iter().enumerate() {
            if let Some(b) = r.as_bytes() {
                measurements.insert(format!("rem{i}"), hex::encode(b));
            }
        }
    }
    let mut claims = BTreeMap::new();
    claims.insert("instance_id".into(), hex::encode(instance_id));
    claims.insert("security_lifecycle".into(), format!("{lifecycle:#06x}"));
    for (key, name) in [
        (CLAIM_IMPLEMENTATION_ID, "implementation_id"),
        (CLAIM_CONFIG, "platform_config"),
    ] {
        if let Ok(b) = bytes_claim(&t.platform_claims, key, name) {
            claims.insert(name.into(), hex::encode(b));
        }
    }
    if let Ok(p) = bytes_claim(&t.realm_claims, CLAIM_PERSONALIZATION, "personalization") {
        claims.insert("realm_personalization".into(), hex::encode(p));
    }
    if let Some(Value::Array(sw)) = claim(&t.platform_claims, CLAIM_SW_COMPONENTS) {
        claims.insert("sw_components".into(), sw.len().to_string());
    }
    let facts = Facts {
        architecture: "cca".into(),
        tcb_status: Some("platform lifecycle secured".into()),
        measurements,
        claims,
        freshness: hex::encode(realm_challenge),
        deductions: vec![no_revocation()],
        ..Facts::default()
    };
    let device_id = DeviceId(*blake3::hash(instance_id).as_bytes());
    Ok(Attestation::new(
        EvidenceKind::Cca,
        PrivacyLevel::Confidential,
        device_id,
        facts,
    ))
}
