//! Fuzz ML-DSA verification with arbitrary parameter-set bytes, keys, signatures, contexts and
//! messages (the precompile's VerifyMLDSA input): never a panic, and both backends agree, as does
//! verification from the key's cached tr (poai_crypto::mu, the one `unsafe` call into aws-lc).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_crypto::{ParamSet, mldsa};

fuzz_target!(|data: &[u8]| {
    let Some((&id, rest)) = data.split_first() else {
        return;
    };
    let Ok(param) = ParamSet::from_id(id) else {
        return;
    };
    let (pk, rest) = rest.split_at(rest.len().min(param.public_key_len()));
    let (sig, rest) = rest.split_at(rest.len().min(param.signature_len()));
    let (ctx_len, msg) = rest
        .split_first()
        .map_or((0, rest), |(c, m)| (usize::from(*c) % 4, m));
    let (ctx, msg) = msg.split_at(msg.len().min(ctx_len));
    let ours = mldsa::verify(param, pk, msg, ctx, sig);
    let libcrux = mldsa::verify_with_libcrux(param, pk, msg, ctx, sig);
    assert_eq!(ours, libcrux);
    if let Ok(key) = poai_crypto::VerifyingKey::from_bytes(param, pk) {
        let from_tr = poai_crypto::verify_with_tr(param, key.as_bytes(), key.tr(), msg, ctx, sig);
        assert_eq!(ours, from_tr);
    }
});
