//! The revm [`PrecompileProvider`]: Ethereum's precompiles for the spec, plus 0x0300, 0x0301
//! and 0x0302.
//!
//! revm runs a precompile inside the call frame's journal checkpoint and reverts it when the
//! call halts or reverts (revm-handler `frame.rs`), so writing storage through
//! `context.journal_mut()` gives the precompiles the same transactional state as a contract.
//! The chain id is `context.cfg().chain_id()` and the time `context.block().timestamp()`.
//!
//! ```
//! use poai_precompiles::{PoaiConfig, PoaiPrecompiles};
//! use revm::{Context, MainBuilder, MainContext, database::InMemoryDB, primitives::hardfork::SpecId};
//!
//! let mut db = InMemoryDB::default();
//! poai_precompiles::insert_genesis(&mut db);
//! let ctx = Context::mainnet().with_db(db).modify_cfg_chained(|cfg| cfg.chain_id = 96_369);
//! let config = PoaiConfig::with_mining_contracts([]).with_bridge_contracts([]);
//! let evm = ctx.build_mainnet().with_precompiles(PoaiPrecompiles::new(SpecId::PRAGUE, config));
//! # let _ = evm;
//! ```

use crate::config::PoaiConfig;
use crate::error::{Failure, Halt};
use crate::gas::GasMeter;
use crate::state::{CallEnv, Storage};
use crate::{ai_mining, model_registry, nv_trust};
use alloy_primitives::{Address, U256};
use revm::context::Cfg;
use revm::context_interface::{Block, ContextTr, JournalTr, LocalContextTr};
use revm::database::{CacheDB, DatabaseRef};
use revm::handler::{EthPrecompiles, PrecompileProvider, precompile_output_to_interpreter_result};
use revm::interpreter::{CallInputs, CallScheme, InterpreterResult};
use revm::precompile::{PrecompileHalt, PrecompileOutput};
use revm::primitives::AddressSet;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use std::sync::Arc;

/// The addresses this crate adds.
pub const ADDRESSES: [Address; 3] = [
    ai_mining::ADDRESS,
    nv_trust::ADDRESS,
    model_registry::ADDRESS,
];

/// The precompile accounts' genesis state: nonce 1, so that the account is never "empty" and
/// EIP-161 state clearing never deletes it (and its storage) when a call touches it.
pub fn genesis_account() -> AccountInfo {
    AccountInfo {
        nonce: 1,
        ..AccountInfo::default()
    }
}

/// Puts [`genesis_account`] at each of [`ADDRESSES`] in a revm in-memory database.
pub fn insert_genesis<D: DatabaseRef>(db: &mut CacheDB<D>) {
    for a in ADDRESSES {
        db.insert_account_info(a, genesis_account());
    }
}

/// Runs the poai precompile at `address`, or `None` if there is none there. `storage` must be
/// that precompile account's storage.
pub fn dispatch(
    address: Address,
    input: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Option<crate::error::Result<Vec<u8>>> {
    Some(match address {
        a if a == ai_mining::ADDRESS => ai_mining::run(input, env, gas, storage, config),
        a if a == nv_trust::ADDRESS => nv_trust::run(input, env, gas, config),
        a if a == model_registry::ADDRESS => model_registry::run(input, env, gas, storage, config),
        _ => return None,
    })
}

/// Ethereum's precompiles plus poai's.
#[derive(Debug, Clone)]
pub struct PoaiPrecompiles {
    eth: EthPrecompiles,
    warm: AddressSet,
    config: Arc<PoaiConfig>,
}

impl PoaiPrecompiles {
    /// The provider for `spec`, with `config` (mining and bridge contracts, TEE roots, session
    /// validity, compute-unit table).
    pub fn new(spec: SpecId, config: PoaiConfig) -> Self {
        let eth = EthPrecompiles::new(spec);
        let warm = Self::warm_set(&eth);
        Self {
            eth,
            warm,
            config: Arc::new(config),
        }
    }

    fn warm_set(eth: &EthPrecompiles) -> AddressSet {
        let mut warm = eth.warm_addresses().clone();
        warm.extend(ADDRESSES);
        warm
    }

    /// The configuration.
    pub fn config(&self) -> &PoaiConfig {
        &self.config
    }
}

/// Storage of one precompile account through revm's journal.
struct JournalStorage<'a, CTX> {
    ctx: &'a mut CTX,
    address: Address,
}

impl<CTX: ContextTr> Storage for JournalStorage<'_, CTX> {
    fn sload(&mut self, slot: U256) -> crate::error::Result<U256> {
        self.ctx
            .journal_mut()
            .sload(self.address, slot)
            .map(|s| s.data)
            .map_err(|e| Failure::Fatal(e.to_string()))
    }

    fn sstore(&mut self, slot: U256, value: U256) -> crate::error::Result<()> {
        self.ctx
            .journal_mut()
            .sstore(self.address, slot, value)
            .map(|_| ())
            .map_err(|e| Failure::Fatal(e.to_string()))
    }
}

impl<CTX> PrecompileProvider<CTX> for PoaiPrecompiles
where
    CTX: ContextTr<Cfg: Cfg<Spec = SpecId>>,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: SpecId) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        self.warm = Self::warm_set(&self.eth);
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        let address = inputs.bytecode_address;
        if !ADDRESSES.contains(&address) {
            return <EthPrecompiles as PrecompileProvider<CTX>>::run(
                &mut self.eth,
                context,
                inputs,
            );
        }
        let input = inputs.input.bytes(context);
        let env = CallEnv {
            caller: inputs.caller,
            is_static: inputs.is_static,
            delegated: matches!(
                inputs.scheme,
                CallScheme::DelegateCall | CallScheme::CallCode
            ) || inputs.target_address != address,
            chain_id: poai_primitives::ChainId(context.cfg().chain_id()),
            timestamp: u64::try_from(context.block().timestamp()).unwrap_or(u64::MAX),
        };
        let depth = context.journal().depth();
        let mut gas = GasMeter::new(inputs.gas_limit);
        let config = Arc::clone(&self.config);
        let mut storage = JournalStorage {
            ctx: &mut *context,
            address,
        };
        let Some(result) = dispatch(address, &input, &env, &mut gas, &mut storage, &config) else {
            return Ok(None);
        };
        let output = match result {
            Ok(bytes) => PrecompileOutput::new(gas.used(), bytes.into(), inputs.reservoir),
            Err(Failure::Halt(Halt::OutOfGas { .. })) => {
                PrecompileOutput::halt(PrecompileHalt::OutOfGas, inputs.reservoir)
            }
            Err(Failure::Halt(halt)) => {
                let message = halt.to_string();
                if depth == 1 {
                    context
                        .local_mut()
                        .set_precompile_error_context(message.clone());
                }
                PrecompileOutput::halt(PrecompileHalt::other(message), inputs.reservoir)
            }
            Err(Failure::Fatal(e)) => return Err(e),
        };
        Ok(Some(precompile_output_to_interpreter_result(
            output,
            inputs.gas_limit,
        )))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        self.warm.contains(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStorage;
    use poai_primitives::ChainId;
    use proptest::prelude::*;

    const MINING: Address = Address::repeat_byte(0xC0);

    proptest! {
        /// What the fuzz targets check, on every `cargo test`: any input, gas, caller and call
        /// kind give a success within the gas or a halt, never a panic or a fatal error.
        #[test]
        fn any_call_halts_or_succeeds_within_its_gas(
            which in 0usize..3,
            op in prop_oneof![0u8..=0x10, any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..300),
            gas in any::<u64>(),
            flags in any::<u8>(),
        ) {
            let address = ADDRESSES.get(which).copied().unwrap_or(ADDRESSES[0]);
            let mut input = vec![op];
            input.extend_from_slice(&body);
            let env = CallEnv {
                caller: if flags & 1 == 0 { MINING } else { Address::ZERO },
                is_static: flags & 2 != 0,
                delegated: flags & 4 != 0,
                chain_id: ChainId(96_369),
                timestamp: 1_700_000_000,
            };
            let config = PoaiConfig::with_mining_contracts([MINING]).with_bridge_contracts([MINING]);
            let mut storage = MemoryStorage::default();
            let mut meter = GasMeter::new(gas);
            match dispatch(address, &input, &env, &mut meter, &mut storage, &config) {
                Some(Ok(_)) => prop_assert!(meter.used() <= gas),
                Some(Err(Failure::Halt(_))) => {}
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
