//! BLAKE3 ids (SPEC sections 1 and 2).
//!
//! Work id = BLAKE3(device_id ‖ nonce ‖ u64be(chain_id)): a 72-byte preimage, as the public
//! reference and the AI Mining standard compute it, so ids agree across implementations. The
//! chain id is always the executing chain's, never a caller's choice, so one piece of work is
//! minted at most once per chain.

use poai_primitives::{ChainId, DeviceId, Nonce, WorkId, WorkProof};

/// Computes the work id of `(device_id, nonce)` on `chain_id`.
pub fn work_id(device_id: &DeviceId, nonce: &Nonce, chain_id: ChainId) -> WorkId {
    let mut h = blake3::Hasher::new();
    h.update(&device_id.0);
    h.update(&nonce.0);
    h.update(&chain_id.to_be_bytes());
    WorkId(*h.finalize().as_bytes())
}

/// The work id of a proof on `chain_id` (its evidence does not enter the id).
pub fn proof_work_id(proof: &WorkProof, chain_id: ChainId) -> WorkId {
    work_id(&proof.device_id, &proof.nonce, chain_id)
}

/// Plain BLAKE3-256.
pub fn blake3(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixed(prefix: &[u8]) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..prefix.len()].copy_from_slice(prefix);
        b
    }

    /// The foundation issue's reference vectors (they match the public Go reference).
    #[test]
    fn reference_vectors() {
        let d = DeviceId(prefixed(&[1, 2, 3]));
        let n = Nonce(prefixed(&[4, 5, 6]));
        let cases = [
            (
                d,
                n,
                96369,
                "d6be424ffa2b7c5e627bcaf31881d10dac9b78b3e8916c46f4d92a456ac1972e",
            ),
            (
                d,
                n,
                36963,
                "03457c5c2cdf79b6cbede26b4ee478902cc84ceabb12e23901c638754cb397d2",
            ),
            (
                DeviceId([0xaa; 32]),
                Nonce([0xbb; 32]),
                200200,
                "4e0f8c071a1c92eefbe1d23e9e4425ccebe29a4ac40361c009fbfae0c5c2360c",
            ),
        ];
        for (d, n, chain, want) in cases {
            assert_eq!(
                work_id(&d, &n, ChainId(chain)).to_string(),
                want,
                "chain {chain}"
            );
        }
    }

    #[test]
    fn preimage_is_72_bytes() {
        let d = DeviceId([7; 32]);
        let n = Nonce([9; 32]);
        let mut pre = Vec::new();
        pre.extend_from_slice(&d.0);
        pre.extend_from_slice(&n.0);
        pre.extend_from_slice(&5u64.to_be_bytes());
        assert_eq!(pre.len(), 72);
        assert_eq!(work_id(&d, &n, ChainId(5)).0, blake3(&pre));
    }
}
