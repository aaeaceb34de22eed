//! What the precompile fuzz targets share: two calls of one precompile on one storage, built
//! from arbitrary bytes (gas, caller, call kind, block time, where the input splits), so that
//! state-dependent paths are reached. Never a panic, never a fatal error without a database,
//! and a success never uses more gas than given.

use poai_precompiles::alloy_primitives::Address;
use poai_precompiles::error::Failure;
use poai_precompiles::gas::GasMeter;
use poai_precompiles::state::{CallEnv, MemoryStorage};
use poai_precompiles::{PoaiConfig, dispatch};
use poai_primitives::ChainId;

/// The caller the configuration allows to write (mining contract and A-chain bridge).
const MINING: Address = Address::repeat_byte(0xC0);

/// Runs `data` as two calls of the precompile at `address`.
pub fn two_calls(address: Address, data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<11>() else {
        return;
    };
    let [g0, g1, g2, g3, g4, g5, g6, g7, flags, time, split] = *head;
    let gas = u64::from_be_bytes([g0, g1, g2, g3, g4, g5, g6, g7]) % 100_000_000;
    let (first, second) = rest.split_at(usize::from(split).min(rest.len()));
    // MINING is also the bridge, so that importAChainBlock's write path is reachable.
    let config = PoaiConfig::with_mining_contracts([MINING]).with_bridge_contracts([MINING]);
    let mut storage = MemoryStorage::default();
    for (i, input) in [first, second].into_iter().enumerate() {
        let env = CallEnv {
            caller: if flags & 1 == 0 {
                MINING
            } else {
                Address::ZERO
            },
            is_static: flags & 2 != 0,
            delegated: flags & 4 != 0,
            chain_id: ChainId(96_369),
            timestamp: 1_700_000_000 + u64::from(time) * 60 * (i as u64 + 1),
        };
        let mut meter = GasMeter::new(gas);
        let before = storage.clone();
        match dispatch(address, input, &env, &mut meter, &mut storage, &config) {
            Some(Ok(_)) => assert!(meter.used() <= gas, "used {} of {gas}", meter.used()),
            Some(Err(Failure::Halt(_))) => storage = before,
            Some(Err(Failure::Fatal(e))) => panic!("fatal error without a database: {e}"),
            None => panic!("no precompile at its own address"),
        }
    }
}
