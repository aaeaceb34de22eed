//! `poai model|provider|task|attest|dispute|credits`: the AI VM from the command line (SPEC
//! section 6). Every write is a signed account transaction sent over JSON-RPC and waited for;
//! every read is one of the `poai_*` methods of [`crate::ai_rpc`]. Output is JSON.
//!
//! | command | does |
//! |---|---|
//! | `poai model register --weights-id H --weight-hash H --name S --version N --arch S --params N --licence S [--min-tier 1-4] [--tolerance exact\|hamming:K] [--previous ID]` | `register_model` |
//! | `poai model show ID` / `poai model list [--owner A]` | reads |
//! | `poai provider register --device ID --gpu G --stake N` / `stake N` / `unbond N` / `withdraw` | staking |
//! | `poai provider show A` / `list` / `duties A` | reads |
//! | `poai task submit --model ID --input-hash H [--workload W] [--max-duration S] --payment N [--ait]` | `submit_task` |
//! | `poai task commit --task ID --output-hash H [--fingerprint H] --duration S` / `reveal …` (same) | commit, then reveal |
//! | `poai task show ID` | read |
//! | `poai attest submit --model ID --input-hash H --output-hash H [--fingerprint H] [--tee-report FILE]` | `submit_attestation` |
//! | `poai attest show ID` / `query [--model] [--provider] [--input-hash]` / `receipt ID` / `verify-receipt HEX --block-hash H` | reads, receipts |
//! | `poai dispute open --a ID --b ID --bond N` / `report --dispute ID --output-hash H [--fingerprint H]` / `show ID` | disputes |
//! | `poai credits balance A` / `transfer --to A --amount N` / `redeem --amount N --workload-id H` | AIT |
//!
//! Writes take `--key FILE` (an ML-DSA key file, `poai keys new`); all take `--rpc URL`.
//! Amounts are integers in the smallest unit (18 decimals). The commit's salt is derived from
//! the key and the task id (a deterministic signature, hashed), so `reveal` recomputes it and no
//! secret file is needed between the two steps.

use crate::ai_rpc::{
    AttestationQuery, AttestationView, DisputeView, Duties, ModelView, ProviderView, ReceiptView,
    TaskView,
};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::rpc_params;
use poai_chain::ai::call::result_commitment;
use poai_chain::ai::exec::AiOutcome;
use poai_chain::ai::receipt::InferenceReceipt;
use poai_chain::ai::{
    AiCall, AttestationBody, GpuModel, PaymentAsset, SignedAttestation, Tolerance, Workload,
};
use poai_chain::api::TxStatus;
use poai_chain::hash::{Hash32, hash_tagged};
use poai_chain::{Call, Outcome, SignedTx, Transaction, TxBody, address_of};
use poai_crypto::{SigningKey, keyfile};
use poai_miner::NodeClient;
use poai_primitives::{Address, ChainId, DeviceId, PrivacyLevel};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

/// The AI VM's top-level commands (flattened into `poai`).
#[derive(Debug, Subcommand)]
pub enum AiCommand {
    /// The model registry (LP-035).
    #[command(subcommand)]
    Model(ModelCommand),
    /// Staked compute providers.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Tasks (LP-092): submit, commit, reveal, show.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Inference attestations and receipts.
    #[command(subcommand)]
    Attest(AttestCommand),
    /// Disputes (LP-035).
    #[command(subcommand)]
    Dispute(DisputeCommand),
    /// AIT credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
}

/// Connection options.
#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
}

/// Connection and signing key.
#[derive(Debug, Clone, Args)]
pub struct Signer {
    /// Connection.
    #[command(flatten)]
    pub conn: Conn,
    /// ML-DSA key file of the sender.
    #[arg(long)]
    pub key: PathBuf,
}

/// `poai model …`.
#[derive(Debug, Subcommand)]
// Parsed once per process; boxing the registration's fields buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum ModelCommand {
    /// Registers a model (or, with --previous, a new version of one you own).
    Register {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// BLAKE3 of the weights (hex).
        #[arg(long)]
        weights_id: Hash32,
        /// SHA-256 of the weights file (hex).
        #[arg(long)]
        weight_hash: Hash32,
        /// Name.
        #[arg(long)]
        name: String,
        /// Version.
        #[arg(long, default_value_t = 1)]
        version: u64,
        /// Architecture.
        #[arg(long, default_value = "transformer")]
        arch: String,
        /// Parameter count.
        #[arg(long)]
        params: u64,
        /// Licence.
        #[arg(long)]
        licence: String,
        /// Lowest provider tier, 1..=4 (above 1 means TEE required).
        #[arg(long, default_value_t = 1)]
        min_tier: u16,
        /// `exact` or `hamming:K` (fingerprints within K bits agree).
        #[arg(long, default_value = "exact")]
        tolerance: String,
        /// The version this one replaces.
        #[arg(long)]
        previous: Option<Hash32>,
    },
    /// One model.
    Show {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Model id.
        id: Hash32,
    },
    /// Models, optionally of one owner.
    List {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Owner.
        #[arg(long)]
        owner: Option<Address>,
    },
}

/// `poai provider …`.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Becomes a provider with a registered device (`poai miner register` first).
    Register {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// Device id.
        #[arg(long)]
        device: DeviceId,
        /// GPU: h100, a100, l40s, mi300x, h200, b200, rtx4090, rtx3090, rtx5090.
        #[arg(long)]
        gpu: String,
        /// Stake (smallest unit).
        #[arg(long)]
        stake: u128,
    },
    /// Adds stake.
    Stake {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// Amount.
        amount: u128,
    },
    /// Starts unbonding stake.
    Unbond {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// Amount.
        amount: u128,
    },
    /// Withdraws stake whose unbonding period has passed.
    Withdraw {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
    },
    /// One provider.
    Show {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Address.
        address: Address,
    },
    /// Every provider.
    List {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
    },
    /// Tasks and disputes the provider must act on.
    Duties {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Address.
        address: Address,
    },
}

/// A task result's fields.
#[derive(Debug, Clone, Args)]
pub struct ResultArgs {
    /// Task id.
    #[arg(long)]
    pub task: Hash32,
    /// Output hash.
    #[arg(long)]
    pub output_hash: Hash32,
    /// Output fingerprint (tolerance models).
    #[arg(
        long,
        default_value = "0000000000000000000000000000000000000000000000000000000000000000"
    )]
    pub fingerprint: Hash32,
    /// Seconds of GPU time.
    #[arg(long)]
    pub duration: u64,
}

/// `poai task …`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Submits a task with its payment (escrowed).
    Submit {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// Model id.
        #[arg(long)]
        model: Hash32,
        /// Input hash.
        #[arg(long)]
        input_hash: Hash32,
        /// inference, batch_inference, fine_tune, training.
        #[arg(long, default_value = "inference")]
        workload: String,
        /// Most seconds credited per provider.
        #[arg(long, default_value_t = 600)]
        max_duration: u64,
        /// Payment (smallest unit).
        #[arg(long)]
        payment: u128,
        /// Pay in AIT (burned on settlement) instead of native coin.
        #[arg(long)]
        ait: bool,
    },
    /// Commits to a result (assigned providers, commit phase).
    Commit {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// The result.
        #[command(flatten)]
        result: ResultArgs,
    },
    /// Reveals the committed result as a signed attestation (reveal phase).
    Reveal {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// The result (as committed).
        #[command(flatten)]
        result: ResultArgs,
    },
    /// One task.
    Show {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Task id.
        id: Hash32,
    },
}

/// `poai attest …`.
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Signs and records an inference attestation.
    Submit {
        /// Sender (the provider).
        #[command(flatten)]
        signer: Signer,
        /// Model id.
        #[arg(long)]
        model: Hash32,
        /// Input hash.
        #[arg(long)]
        input_hash: Hash32,
        /// Output hash.
        #[arg(long)]
        output_hash: Hash32,
        /// Output fingerprint.
        #[arg(
            long,
            default_value = "0000000000000000000000000000000000000000000000000000000000000000"
        )]
        fingerprint: Hash32,
        /// A TEE report file to bind.
        #[arg(long)]
        tee_report: Option<PathBuf>,
    },
    /// One attestation.
    Show {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Attestation id.
        id: Hash32,
    },
    /// Attestations by model, provider, input.
    Query {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Model id.
        #[arg(long)]
        model: Option<Hash32>,
        /// Provider.
        #[arg(long)]
        provider: Option<Address>,
        /// Input hash.
        #[arg(long)]
        input_hash: Option<Hash32>,
        /// Most results.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// The inclusion receipt of an attestation (for other chains).
    Receipt {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Attestation id.
        id: Hash32,
    },
    /// Verifies a receipt offline against a trusted block hash.
    VerifyReceipt {
        /// Receipt hex.
        receipt: String,
        /// The trusted hash of the receipt's block.
        #[arg(long)]
        block_hash: Hash32,
    },
}

/// `poai dispute …`.
#[derive(Debug, Subcommand)]
pub enum DisputeCommand {
    /// Challenges two conflicting recorded attestations with a bond.
    Open {
        /// Sender (the challenger).
        #[command(flatten)]
        signer: Signer,
        /// First attestation id.
        #[arg(long)]
        a: Hash32,
        /// Second attestation id.
        #[arg(long)]
        b: Hash32,
        /// Bond (smallest unit).
        #[arg(long)]
        bond: u128,
    },
    /// Reports the re-run as the dispute's referee.
    Report {
        /// Sender (the referee).
        #[command(flatten)]
        signer: Signer,
        /// Dispute id.
        #[arg(long)]
        dispute: Hash32,
        /// Output hash of the re-run.
        #[arg(long)]
        output_hash: Hash32,
        /// Output fingerprint.
        #[arg(
            long,
            default_value = "0000000000000000000000000000000000000000000000000000000000000000"
        )]
        fingerprint: Hash32,
    },
    /// One dispute.
    Show {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Dispute id.
        id: Hash32,
    },
}

/// `poai credits …`.
#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// An AIT balance.
    Balance {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Address.
        address: Address,
    },
    /// Moves AIT.
    Transfer {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// Recipient.
        #[arg(long)]
        to: Address,
        /// Amount.
        #[arg(long)]
        amount: u128,
    },
    /// Burns AIT for compute (LP-092 redeem).
    Redeem {
        /// Sender.
        #[command(flatten)]
        signer: Signer,
        /// Amount.
        #[arg(long)]
        amount: u128,
        /// The workload it pays for.
        #[arg(long)]
        workload_id: Hash32,
    },
}

/// A client of the AI VM: a node connection and, for writes, a key.
pub struct AiClient {
    /// The node.
    pub node: NodeClient,
    key: Option<SigningKey>,
    /// How long to wait for inclusion.
    pub timeout: Duration,
}

/// What a write did.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// Transaction hash.
    pub tx_hash: Hash32,
    /// Including block.
    pub height: u64,
    /// Its effect.
    pub outcome: AiOutcome,
}

impl AiClient {
    /// A read-only client.
    pub fn new(url: &str) -> Result<Self> {
        Ok(Self {
            node: NodeClient::new(url)?,
            key: None,
            timeout: Duration::from_secs(60),
        })
    }

    /// A client that signs with `key`.
    pub fn with_key(url: &str, key: SigningKey) -> Result<Self> {
        let mut c = Self::new(url)?;
        c.key = Some(key);
        Ok(c)
    }

    fn key(&self) -> Result<&SigningKey> {
        self.key.as_ref().context("this command needs --key")
    }

    /// The signer's address.
    pub fn address(&self) -> Result<Address> {
        Ok(address_of(self.key()?.verifying_key()))
    }

    /// A JSON-RPC read.
    pub async fn get<T: DeserializeOwned>(&self, method: &str, params: ArrayParams) -> Result<T> {
        Ok(self.node.call(method, params).await?)
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<ChainId> {
        Ok(self.node.chain_info().await?.chain_id)
    }

    /// Signs an AI VM `call` with the next nonce, sends it and waits for its inclusion.
    pub async fn send(&self, call: AiCall) -> Result<Sent> {
        let (tx_hash, height, outcome) = self.send_call(Call::Ai(Box::new(call))).await?;
        match outcome {
            Outcome::Ai(outcome) => Ok(Sent {
                tx_hash,
                height,
                outcome,
            }),
            other => bail!("transaction {tx_hash}: unexpected outcome {other:?}"),
        }
    }

    /// Signs any account-transaction `call` with the next nonce (fee 0), sends it and waits for
    /// its inclusion: its hash, block height and outcome, or the node's named refusal.
    pub async fn send_call(&self, call: Call) -> Result<(Hash32, u64, Outcome)> {
        let key = self.key()?;
        let me = address_of(key.verifying_key());
        let chain_id = self.chain_id().await?;
        let nonce = self.node.account(me).await?.account.nonce;
        let body = TxBody {
            chain_id,
            nonce,
            fee: 0,
            call,
        };
        let tx = Transaction::Account(SignedTx::sign(body, key)?);
        let hash = self.node.send(&tx).await?;
        match self.node.wait_tx(hash, self.timeout).await? {
            TxStatus::Included {
                height, outcome, ..
            } => Ok((hash, height, outcome)),
            TxStatus::Rejected { name, message } => bail!("{name}: {message}"),
            other => bail!("transaction {hash}: {other:?}"),
        }
    }

    /// Signs an attestation for this chain with the client's key.
    pub async fn attestation(&self, body: AttestationBody) -> Result<SignedAttestation> {
        let chain_id = self.chain_id().await?;
        Ok(body.sign(chain_id, self.key()?)?)
    }

    /// The next block's time (attestation timestamps).
    pub async fn next_time(&self) -> Result<u64> {
        Ok(self.node.chain_info().await?.next_block_time)
    }

    /// The commit salt for `task`: BLAKE3 of a deterministic signature of the task id, so only
    /// the key's holder can compute it, and the same holder gets it again at reveal time.
    pub fn salt(&self, task: &Hash32) -> Result<[u8; 32]> {
        let sig = self
            .key()?
            .sign_deterministic(&task.0, b"poai/commit-salt")?;
        Ok(hash_tagged(b"poai/commit-salt/v1", &[&sig]).0)
    }

    /// Commits to a task result.
    pub async fn commit(&self, r: &ResultArgs) -> Result<Sent> {
        let me = self.address()?;
        let salt = self.salt(&r.task)?;
        let commitment = result_commitment(
            &r.task,
            &me,
            &r.output_hash,
            &r.fingerprint,
            r.duration,
            &salt,
        );
        self.send(AiCall::CommitResult {
            task_id: r.task,
            commitment,
        })
        .await
    }

    /// Reveals a committed task result.
    pub async fn reveal(&self, r: &ResultArgs) -> Result<Sent> {
        let task: TaskView = self
            .get::<Option<TaskView>>("poai_getTask", rpc_params![r.task])
            .await?
            .with_context(|| format!("task {} not found", r.task))?;
        let me = self.address()?;
        let body = AttestationBody {
            model_id: task.task.model_id,
            input_hash: task.task.input_hash,
            output_hash: r.output_hash,
            fingerprint: r.fingerprint,
            provider: me,
            task_id: r.task,
            timestamp: self.next_time().await?,
            tee_report: Vec::new(),
        };
        let attestation = self.attestation(body).await?;
        self.send(AiCall::RevealResult {
            task_id: r.task,
            duration: r.duration,
            salt: self.salt(&r.task)?,
            attestation,
        })
        .await
    }

    /// Opens a dispute over two recorded attestations.
    pub async fn open_dispute(&self, a: Hash32, b: Hash32, bond: u128) -> Result<Sent> {
        let fetch = |id: Hash32| async move {
            self.get::<Option<AttestationView>>("poai_getAttestation", rpc_params![id])
                .await?
                .with_context(|| format!("attestation {id} not found"))
        };
        let (a, b) = (fetch(a).await?, fetch(b).await?);
        self.send(AiCall::OpenDispute {
            bond,
            a: a.attestation,
            b: b.attestation,
        })
        .await
    }

    /// Reports a referee's re-run.
    pub async fn report(&self, dispute: Hash32, output: Hash32, fp: Hash32) -> Result<Sent> {
        let d: DisputeView = self
            .get::<Option<DisputeView>>("poai_getDispute", rpc_params![dispute])
            .await?
            .with_context(|| format!("dispute {dispute} not found"))?;
        let body = AttestationBody {
            model_id: d.dispute.model_id,
            input_hash: d.dispute.input_hash,
            output_hash: output,
            fingerprint: fp,
            provider: self.address()?,
            task_id: Hash32::ZERO,
            timestamp: self.next_time().await?,
            tee_report: Vec::new(),
        };
        let attestation = self.attestation(body).await?;
        self.send(AiCall::RefereeResult {
            dispute_id: dispute,
            attestation,
        })
        .await
    }
}

/// Parses `exact` or `hamming:K`.
pub fn parse_tolerance(s: &str) -> Result<Tolerance> {
    if s == "exact" {
        return Ok(Tolerance::Exact);
    }
    if let Some(k) = s.strip_prefix("hamming:") {
        let max_bits: u16 = k
            .parse()
            .with_context(|| format!("--tolerance hamming:K needs a number, got {k:?}"))?;
        return Ok(Tolerance::Hamming { max_bits });
    }
    bail!("--tolerance must be `exact` or `hamming:K`, got {s:?}")
}

pub(crate) fn json<T: Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

pub(crate) fn signer(s: &Signer) -> Result<AiClient> {
    let key = keyfile::read(&s.key).with_context(|| format!("reading {}", s.key.display()))?;
    AiClient::with_key(&s.conn.rpc, key)
}

pub(crate) fn reader(c: &Conn) -> Result<AiClient> {
    AiClient::new(&c.rpc)
}

pub(crate) fn rt() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs a command; returns the text to print.
pub fn run(cmd: AiCommand) -> Result<String> {
    rt()?.block_on(run_async(cmd))
}

/// [`run`] inside a runtime.
pub async fn run_async(cmd: AiCommand) -> Result<String> {
    match cmd {
        AiCommand::Model(c) => model(c).await,
        AiCommand::Provider(c) => provider(c).await,
        AiCommand::Task(c) => task(c).await,
        AiCommand::Attest(c) => attest(c).await,
        AiCommand::Dispute(c) => dispute(c).await,
        AiCommand::Credits(c) => credits(c).await,
    }
}

async fn model(c: ModelCommand) -> Result<String> {
    match c {
        ModelCommand::Register {
            signer: s,
            weights_id,
            weight_hash,
            name,
            version,
            arch,
            params,
            licence,
            min_tier,
            tolerance,
            previous,
        } => {
            let min_tier =
                PrivacyLevel::try_from(min_tier).map_err(|e| anyhow::anyhow!("--min-tier: {e}"))?;
            let call = AiCall::RegisterModel {
                weights_id,
                weight_hash,
                name,
                version,
                architecture: arch,
                param_count: params,
                licence,
                tee_required: min_tier > PrivacyLevel::Public,
                min_tier,
                tolerance: parse_tolerance(&tolerance)?,
                previous,
            };
            json(&signer(&s)?.send(call).await?)
        }
        ModelCommand::Show { conn, id } => json(
            &reader(&conn)?
                .get::<Option<ModelView>>("poai_getModel", rpc_params![id])
                .await?,
        ),
        ModelCommand::List { conn, owner } => json(
            &reader(&conn)?
                .get::<Vec<ModelView>>("poai_listModels", rpc_params![owner])
                .await?,
        ),
    }
}

async fn provider(c: ProviderCommand) -> Result<String> {
    match c {
        ProviderCommand::Register {
            signer: s,
            device,
            gpu,
            stake,
        } => {
            let gpu = GpuModel::parse(&gpu).with_context(|| {
                format!("--gpu: unknown GPU {gpu:?} (h100, a100, l40s, mi300x, h200, b200, rtx4090, rtx3090, rtx5090)")
            })?;
            json(
                &signer(&s)?
                    .send(AiCall::RegisterProvider {
                        device_id: device,
                        gpu,
                        stake,
                    })
                    .await?,
            )
        }
        ProviderCommand::Stake { signer: s, amount } => {
            json(&signer(&s)?.send(AiCall::AddStake { amount }).await?)
        }
        ProviderCommand::Unbond { signer: s, amount } => {
            json(&signer(&s)?.send(AiCall::Unbond { amount }).await?)
        }
        ProviderCommand::Withdraw { signer: s } => json(&signer(&s)?.send(AiCall::Withdraw).await?),
        ProviderCommand::Show { conn, address } => json(
            &reader(&conn)?
                .get::<Option<ProviderView>>("poai_getProvider", rpc_params![address])
                .await?,
        ),
        ProviderCommand::List { conn } => json(
            &reader(&conn)?
                .get::<Vec<ProviderView>>("poai_listProviders", rpc_params![])
                .await?,
        ),
        ProviderCommand::Duties { conn, address } => json(
            &reader(&conn)?
                .get::<Duties>("poai_providerDuties", rpc_params![address])
                .await?,
        ),
    }
}

async fn task(c: TaskCommand) -> Result<String> {
    match c {
        TaskCommand::Submit {
            signer: s,
            model,
            input_hash,
            workload,
            max_duration,
            payment,
            ait,
        } => {
            let workload = Workload::parse(&workload).with_context(|| {
                format!("--workload: unknown {workload:?} (inference, batch_inference, fine_tune, training)")
            })?;
            let client = signer(&s)?;
            let sent = client
                .send(AiCall::SubmitTask {
                    model_id: model,
                    input_hash,
                    workload,
                    max_duration,
                    asset: if ait {
                        PaymentAsset::Ait
                    } else {
                        PaymentAsset::Native
                    },
                    payment,
                })
                .await?;
            #[derive(Serialize)]
            struct Out {
                task_id: Hash32,
                #[serde(flatten)]
                sent: Sent,
            }
            json(&Out {
                task_id: sent.outcome.id,
                sent,
            })
        }
        TaskCommand::Commit { signer: s, result } => json(&signer(&s)?.commit(&result).await?),
        TaskCommand::Reveal { signer: s, result } => json(&signer(&s)?.reveal(&result).await?),
        TaskCommand::Show { conn, id } => json(
            &reader(&conn)?
                .get::<Option<TaskView>>("poai_getTask", rpc_params![id])
                .await?,
        ),
    }
}

async fn attest(c: AttestCommand) -> Result<String> {
    match c {
        AttestCommand::Submit {
            signer: s,
            model,
            input_hash,
            output_hash,
            fingerprint,
            tee_report,
        } => {
            let client = signer(&s)?;
            let tee_report = match tee_report {
                Some(p) => std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                None => Vec::new(),
            };
            let body = AttestationBody {
                model_id: model,
                input_hash,
                output_hash,
                fingerprint,
                provider: client.address()?,
                task_id: Hash32::ZERO,
                timestamp: client.next_time().await?,
                tee_report,
            };
            let attestation = client.attestation(body).await?;
            json(
                &client
                    .send(AiCall::SubmitAttestation { attestation })
                    .await?,
            )
        }
        AttestCommand::Show { conn, id } => json(
            &reader(&conn)?
                .get::<Option<AttestationView>>("poai_getAttestation", rpc_params![id])
                .await?,
        ),
        AttestCommand::Query {
            conn,
            model,
            provider,
            input_hash,
            limit,
        } => {
            let q = AttestationQuery {
                model_id: model,
                provider,
                input_hash,
                limit,
            };
            json(
                &reader(&conn)?
                    .get::<Vec<AttestationView>>("poai_queryAttestations", rpc_params![q])
                    .await?,
            )
        }
        AttestCommand::Receipt { conn, id } => json(
            &reader(&conn)?
                .get::<Option<ReceiptView>>("poai_inferenceReceipt", rpc_params![id])
                .await?,
        ),
        AttestCommand::VerifyReceipt {
            receipt,
            block_hash,
        } => {
            let bytes = poai_primitives::hexfmt::decode(&receipt)
                .map_err(|e| anyhow::anyhow!("receipt hex: {e}"))?;
            let r = InferenceReceipt::decode(&bytes)?;
            let a = r.verify(|_| Some(block_hash))?;
            json(&serde_json::json!({
                "valid": true,
                "height": r.header.height,
                "attestation_id": r.attestation_id,
                "attestation": a,
            }))
        }
    }
}

async fn dispute(c: DisputeCommand) -> Result<String> {
    match c {
        DisputeCommand::Open {
            signer: s,
            a,
            b,
            bond,
        } => json(&signer(&s)?.open_dispute(a, b, bond).await?),
        DisputeCommand::Report {
            signer: s,
            dispute,
            output_hash,
            fingerprint,
        } => json(
            &signer(&s)?
                .report(dispute, output_hash, fingerprint)
                .await?,
        ),
        DisputeCommand::Show { conn, id } => json(
            &reader(&conn)?
                .get::<Option<DisputeView>>("poai_getDispute", rpc_params![id])
                .await?,
        ),
    }
}

async fn credits(c: CreditsCommand) -> Result<String> {
    match c {
        CreditsCommand::Balance { conn, address } => {
            let v: String = reader(&conn)?
                .get("poai_getCredits", rpc_params![address])
                .await?;
            json(&serde_json::json!({ "address": address, "ait": v }))
        }
        CreditsCommand::Transfer {
            signer: s,
            to,
            amount,
        } => json(
            &signer(&s)?
                .send(AiCall::TransferCredits { to, amount })
                .await?,
        ),
        CreditsCommand::Redeem {
            signer: s,
            amount,
            workload_id,
        } => json(
            &signer(&s)?
                .send(AiCall::RedeemCredits {
                    amount,
                    workload_id,
                })
                .await?,
        ),
    }
}
