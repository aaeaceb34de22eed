//! A chain in revm: the poai precompiles, funded accounts, and the four contracts deployed by
//! one deployer in a fixed order, so that AIMining's address (on the precompiles' allow-list)
//! is known before the EVM is built.

use alloy_primitives::{Address, B256, Bytes, Log, U256, address};
use alloy_sol_types::{SolCall, SolConstructor, SolError, SolInterface};
use poai_contracts::{AIMining, AIToken, ChainConfig, ComputeMarket};
use poai_precompiles::tee::TeeConfig;
use poai_precompiles::{PoaiConfig, PoaiPrecompiles};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, CfgEnv, Evm, TxEnv};
use revm::database::InMemoryDB;
use revm::handler::instructions::EthInstructions;
use revm::handler::{EthFrame, MainnetContext};
use revm::interpreter::interpreter::EthInterpreter;
use revm::primitives::TxKind;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

type Ctx = MainnetContext<InMemoryDB>;
type PoaiEvm =
    Evm<Ctx, (), EthInstructions<EthInterpreter, Ctx>, PoaiPrecompiles, EthFrame<EthInterpreter>>;

/// Deploys everything and holds ADMIN_ROLE and PAUSER_ROLE.
pub const DEPLOYER: Address = address!("00000000000000000000000000000000000d0001");
/// Receives 2% of rewards and market fees.
pub const TREASURY: Address = address!("00000000000000000000000000000000000d0002");
/// Receives the 100M LP allocation.
pub const LP: Address = address!("00000000000000000000000000000000000d0003");
/// Miners.
pub const MINER: Address = address!("00000000000000000000000000000000000a0001");
pub const MINER2: Address = address!("00000000000000000000000000000000000a0002");
/// Where a miner's rewards go.
pub const BENEFICIARY: Address = address!("00000000000000000000000000000000000b0001");
/// Submits proofs on a miner's behalf.
pub const RELAYER: Address = address!("00000000000000000000000000000000000b0002");
/// Buys compute.
pub const REQUESTER: Address = address!("00000000000000000000000000000000000c0001");
/// Sells compute.
pub const PROVIDERS: [Address; 4] = [
    address!("00000000000000000000000000000000000e0001"),
    address!("00000000000000000000000000000000000e0002"),
    address!("00000000000000000000000000000000000e0003"),
    address!("00000000000000000000000000000000000e0004"),
];

/// Block time at the start of every chain.
pub const T0: u64 = 1_700_000_000;
/// AIToken's genesis block, and the first block of every chain.
pub const GENESIS_BLOCK: u64 = 1_000;
/// One AI (and one native coin).
pub const ONE: u128 = 1_000_000_000_000_000_000;
/// ComputeMarket's fee (1%) and minimum stake (1000 AI).
pub const MARKET_FEE_BPS: u16 = 100;
pub const MIN_STAKE: u128 = 1_000 * ONE;

pub struct Chain {
    evm: PoaiEvm,
    pub chain_id: u64,
    pub config: Address,
    pub token: Address,
    pub mining: Address,
    pub market: Address,
    /// Logs of the last successful `send`.
    pub last_logs: Vec<Log>,
}

/// A transaction's revert data (halts are test failures).
pub type Reverted = Bytes;

impl Chain {
    pub fn new(chain_id: u64) -> Self {
        Self::with_tee(chain_id, TeeConfig::default())
    }

    pub fn with_tee(chain_id: u64, tee: TeeConfig) -> Self {
        let mining = DEPLOYER.create(2);
        let mut config = PoaiConfig::with_mining_contracts([mining]);
        config.tee = tee;
        let mut db = InMemoryDB::default();
        poai_precompiles::insert_genesis(&mut db);
        let rich = AccountInfo {
            balance: U256::from(1_000_000u64) * U256::from(ONE),
            ..AccountInfo::default()
        };
        let funded = [DEPLOYER, MINER, MINER2, BENEFICIARY, RELAYER, REQUESTER];
        for a in funded.into_iter().chain(PROVIDERS) {
            db.insert_account_info(a, rich.clone());
        }
        let ctx = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|cfg: &mut CfgEnv| {
                cfg.chain_id = chain_id;
                cfg.spec = SpecId::PRAGUE;
                cfg.disable_nonce_check = true;
                // ML-DSA public keys and signatures make big calldata; keep the per-tx cap off.
                cfg.tx_gas_limit_cap = Some(u64::MAX);
            })
            .modify_block_chained(|b: &mut BlockEnv| {
                b.number = U256::from(GENESIS_BLOCK);
                b.timestamp = U256::from(T0);
                b.basefee = 0;
                b.gas_limit = 1_000_000_000;
            });
        let evm = ctx
            .build_mainnet()
            .with_precompiles(PoaiPrecompiles::new(SpecId::PRAGUE, config));
        let mut chain = Self {
            evm,
            chain_id,
            config: Address::ZERO,
            token: Address::ZERO,
            mining: Address::ZERO,
            market: Address::ZERO,
            last_logs: Vec::new(),
        };
        chain.config = chain.deploy(
            &ChainConfig::BYTECODE,
            &ChainConfig::constructorCall { admin: DEPLOYER }.abi_encode(),
        );
        chain.token = chain.deploy(
            &AIToken::BYTECODE,
            &AIToken::constructorCall {
                admin: DEPLOYER,
                treasury_: TREASURY,
                lpRecipient_: LP,
                genesisBlock_: U256::from(GENESIS_BLOCK),
            }
            .abi_encode(),
        );
        chain.mining = chain.deploy(
            &AIMining::BYTECODE,
            &AIMining::constructorCall {
                token_: chain.token,
                config_: chain.config,
            }
            .abi_encode(),
        );
        assert_eq!(
            chain.mining, mining,
            "AIMining is not where the allow-list expects it"
        );
        chain.market = chain.deploy(
            &ComputeMarket::BYTECODE,
            &ComputeMarket::constructorCall {
                admin: DEPLOYER,
                token_: chain.token,
                treasury_: TREASURY,
                feeBps_: MARKET_FEE_BPS,
                minStake_: U256::from(MIN_STAKE),
            }
            .abi_encode(),
        );
        let minter = chain.view(chain.token, &AIToken::MINTER_ROLECall {});
        let pauser = chain.view(chain.token, &AIToken::PAUSER_ROLECall {});
        let token = chain.token;
        chain
            .send(
                DEPLOYER,
                token,
                &AIToken::grantRoleCall {
                    role: minter,
                    account: mining,
                },
            )
            .unwrap();
        chain
            .send(
                DEPLOYER,
                token,
                &AIToken::grantRoleCall {
                    role: pauser,
                    account: DEPLOYER,
                },
            )
            .unwrap();
        chain
    }

    fn execute(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Vec<u8>,
        value: U256,
    ) -> ExecutionResult {
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data.into())
            .value(value)
            .gas_limit(100_000_000)
            .gas_price(0)
            .chain_id(Some(self.chain_id))
            .build()
            .unwrap();
        self.evm.transact_commit(tx).unwrap()
    }

    pub fn deploy(&mut self, code: &Bytes, args: &[u8]) -> Address {
        let mut data = code.to_vec();
        data.extend_from_slice(args);
        match self.execute(DEPLOYER, TxKind::Create, data, U256::ZERO) {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                ..
            } => address,
            other => panic!("deployment failed: {other:?}"),
        }
    }

    /// Sends a transaction calling `call` with `value` wei; commits it. Returns the decoded return
    /// values, or the revert data.
    pub fn send_value<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
        value: u128,
    ) -> Result<C::Return, Reverted> {
        match self.execute(from, TxKind::Call(to), call.abi_encode(), U256::from(value)) {
            ExecutionResult::Success { output, logs, .. } => {
                self.last_logs = logs;
                Ok(C::abi_decode_returns(output.data()).unwrap())
            }
            ExecutionResult::Revert { output, .. } => Err(output),
            ExecutionResult::Halt { reason, .. } => panic!("{} halted: {reason:?}", C::SIGNATURE),
        }
    }

    pub fn send<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<C::Return, Reverted> {
        self.send_value(from, to, call, 0)
    }

    /// Calls a view without committing anything.
    pub fn view<C: SolCall>(&mut self, to: Address, call: &C) -> C::Return {
        C::abi_decode_returns(&self.raw_view(to, call.abi_encode())).unwrap()
    }

    /// Calls `to` with raw calldata without committing anything; returns the output.
    pub fn raw_view(&mut self, to: Address, data: Vec<u8>) -> Bytes {
        let tx = TxEnv::builder()
            .caller(DEPLOYER)
            .kind(TxKind::Call(to))
            .data(data.into())
            .gas_limit(100_000_000)
            .gas_price(0)
            .chain_id(Some(self.chain_id))
            .build()
            .unwrap();
        match self.evm.transact(tx).unwrap().result {
            ExecutionResult::Success { output, .. } => output.into_data(),
            other => panic!("view of {to} failed: {other:?}"),
        }
    }

    pub fn block(&self) -> (u64, u64) {
        let b = &self.evm.ctx.block;
        (b.number.to::<u64>(), b.timestamp.to::<u64>())
    }

    pub fn set_block(&mut self, number: u64, timestamp: u64) {
        self.evm.ctx.block.number = U256::from(number);
        self.evm.ctx.block.timestamp = U256::from(timestamp);
    }

    /// Moves `blocks` blocks and `secs` seconds on.
    pub fn advance(&mut self, blocks: u64, secs: u64) {
        let (n, t) = self.block();
        self.set_block(n + blocks, t + secs);
    }

    pub fn set_prevrandao(&mut self, value: B256) {
        self.evm.ctx.block.prevrandao = Some(value);
    }

    pub fn balance_of(&mut self, account: Address) -> u128 {
        let token = self.token;
        self.view(token, &AIToken::balanceOfCall { account })
            .to::<u128>()
    }

    pub fn native_balance(&mut self, account: Address) -> U256 {
        self.evm
            .ctx
            .journaled_state
            .database
            .cache
            .accounts
            .get(&account)
            .map(|a| a.info.balance)
            .unwrap_or_default()
    }
}

/// The events `E` in `logs` emitted by `emitter`, decoded.
pub fn events<E: alloy_sol_types::SolEvent>(logs: &[Log], emitter: Address) -> Vec<E> {
    logs.iter()
        .filter(|l| l.address == emitter)
        .filter_map(|l| E::decode_log(l).ok().map(|l| l.data))
        .collect()
}

/// A readable name for revert data: the custom error of any of the contracts, decoded.
pub fn describe(data: &[u8]) -> String {
    if let Ok(e) = AIMining::AIMiningErrors::abi_decode(data) {
        return format!("AIMining::{e:?}");
    }
    if let Ok(e) = AIToken::AITokenErrors::abi_decode(data) {
        return format!("AIToken::{e:?}");
    }
    if let Ok(e) = ChainConfig::ChainConfigErrors::abi_decode(data) {
        return format!("ChainConfig::{e:?}");
    }
    if let Ok(e) = ComputeMarket::ComputeMarketErrors::abi_decode(data) {
        return format!("ComputeMarket::{e:?}");
    }
    format!(
        "unknown revert data 0x{}",
        alloy_primitives::hex::encode(data)
    )
}

/// The custom error `E` that a call must have reverted with, decoded.
#[track_caller]
pub fn expect_error<E: SolError, T>(result: Result<T, Reverted>) -> E {
    match result {
        Ok(_) => panic!("expected {}, but the call succeeded", E::SIGNATURE),
        Err(data) => {
            assert!(
                data.starts_with(&E::SELECTOR),
                "expected {}, got {}",
                E::SIGNATURE,
                describe(&data)
            );
            E::abi_decode(&data).unwrap()
        }
    }
}

/// Unwraps a call that must succeed, naming the error if it did not.
#[track_caller]
pub fn ok<T>(result: Result<T, Reverted>) -> T {
    result.unwrap_or_else(|data| panic!("call reverted with {}", describe(&data)))
}
