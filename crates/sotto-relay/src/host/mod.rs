//! The mailbox host as a state machine: request frames and the time go in; response frames,
//! the messages to push and counters come out. It never touches a socket or a clock, so every
//! rule is tested deterministically.
//!
//! A batch of requests runs in one store transaction (group commit): one disk sync answers many
//! writes, and no answer leaves before the data it reports is durable.

mod commands;
mod files;
#[cfg(test)]
mod files_tests;
mod limits;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod model_tests;
mod records;
mod replay;
#[cfg(test)]
mod store_failure_tests;
mod sweep;
#[cfg(test)]
mod tests;
mod verify;
#[cfg(test)]
mod voucher_tests;
mod vouchers;

pub use vouchers::{Issuer, VoucherPolicy};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sotto_proto::batch::{message_room, open_requests, seal_answers, Requests};
use sotto_proto::{
    ErrorCode, Id, Message, Response, ResponseBody, SignedRequest, REPLAY_WINDOW_SECS,
};

pub use limits::Limit;

use crate::store::{Store, StoreError, Table};

/// Limits and defaults a relay operator sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostConfig {
    pub default_ttl_secs: u32,
    pub max_ttl_secs: u32,
    /// Unacknowledged messages per mailbox: with `MAX_MESSAGE_LEN` also its bytes.
    pub default_quota: u16,
    pub max_quota: u16,
    pub max_mailboxes: u64,
    pub max_links: u64,
    pub max_readers: u16,
    /// Bytes of stored messages and link data (keys and values); the other tables are bounded
    /// by the counts above.
    pub disk_budget_bytes: u64,
    /// Answers remembered for the replay window: one per mutating request in the last 600 s.
    pub max_remembered: u64,
    /// Readers subscribed for pushes, kept by the host thread.
    pub max_subscriptions: u64,
    /// A file's lifetime from its creation when it asks for none.
    pub file_default_ttl_secs: u32,
    pub file_max_ttl_secs: u32,
    /// Most chunks of one file at this host.
    pub max_file_chunks: u32,
    /// Most recipients one file waits for.
    pub max_file_recipients: u16,
    /// Most chunks all files together may reserve at this host (each up to 14,208 bytes).
    pub max_held_chunks: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            default_ttl_secs: 21 * 24 * 3600,
            max_ttl_secs: 90 * 24 * 3600,
            default_quota: 128,
            max_quota: 1024,
            max_mailboxes: 1_000_000,
            max_links: 100_000,
            max_readers: 1024,
            disk_budget_bytes: 8 << 30,
            // 3,000 mutating requests a second, every second of the replay window.
            max_remembered: 1_800_000,
            max_subscriptions: 1_000_000,
            file_default_ttl_secs: 48 * 3600,
            file_max_ttl_secs: 7 * 24 * 3600,
            // 1.1 GiB of plaintext at one host: a whole file of the clients' default limit.
            max_file_chunks: 80_000,
            max_file_recipients: 1024,
            // About 14 GB.
            max_held_chunks: 1_000_000,
        }
    }
}

/// The answer to one request, with what the shell needs for routing and metrics.
#[derive(Debug, Clone)]
pub struct Handled {
    pub frame: Vec<u8>,
    /// The command's name; `None` when the request could not be decoded.
    pub command: Option<&'static str>,
    pub error: Option<ErrorCode>,
    /// Set when an authorized subscribe asks for pushes to this read id (in a batch, on the
    /// subscribe's own answer in `batched`).
    pub subscribed: Option<Id>,
    /// The answers to each request of a batch frame, in order (empty for a single request).
    pub batched: Vec<Handled>,
    /// The limit a FULL or BUSY answer met.
    pub limit: Option<Limit>,
}

/// One frame's requests: a single request, or a batch run in order (`None`: undecodable).
enum Unit {
    One(Option<Box<SignedRequest>>),
    Batch(Vec<SignedRequest>),
}

impl Unit {
    fn open(frame: &[u8]) -> Self {
        match open_requests(frame) {
            Ok(Requests::One(signed)) => Self::One(Some(signed)),
            Ok(Requests::Batch(requests)) => Self::Batch(requests),
            Err(_) => Self::One(None),
        }
    }

    /// Bytes of messages the unit's fetches may answer with, together.
    fn message_room(&self) -> usize {
        match self {
            Self::One(_) => Message::BUDGET,
            Self::Batch(requests) => message_room(requests.len()),
        }
    }

    fn requests(&self) -> Vec<Option<&SignedRequest>> {
        match self {
            Self::One(signed) => vec![signed.as_deref()],
            Self::Batch(requests) => requests.iter().map(Some).collect(),
        }
    }
}

/// The answers to a batch frame in one frame. A batch holds only commands with short answers
/// and fetches that shared the room left (`Unit::message_room`), so they fit.
fn batch_answer(answers: Vec<Handled>) -> Handled {
    let responses: Vec<Response> = answers
        .iter()
        .map(|h| {
            Response::open(&h.frame).unwrap_or(Response {
                nonce: [0; 16],
                body: ResponseBody::Error(ErrorCode::Internal),
            })
        })
        .collect();
    let frame = seal_answers(&responses).unwrap_or_else(|_| {
        answer(
            [0; 16],
            None,
            ResponseBody::Error(ErrorCode::Malformed),
            None,
        )
        .frame
    });
    Handled {
        frame,
        command: None,
        error: answers.iter().find_map(|h| h.error),
        subscribed: None,
        limit: None,
        batched: answers,
    }
}

/// A message appended by this batch, to be pushed to these readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub read_ids: Vec<Id>,
    pub message: Message,
}

#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// One per request, in request order.
    pub handled: Vec<Handled>,
    pub appended: Vec<Appended>,
    /// Read ids that stopped existing (their reader or mailbox went): no more pushes for them.
    pub gone: Vec<Id>,
}

/// Counts that identify nothing: how much the host holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    pub mailboxes: u64,
    pub messages: u64,
    pub links: u64,
    /// Bytes of messages and link data, what `disk_budget_bytes` bounds.
    pub bytes: u64,
    /// Answers remembered for the replay window.
    pub remembered: u64,
    pub files: u64,
    /// Chunks stored.
    pub chunks: u64,
    /// Chunks the live files may store (their declared counts).
    pub reserved_chunks: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct StatsDelta {
    mailboxes: i64,
    messages: i64,
    links: i64,
    bytes: i64,
    remembered: i64,
    files: i64,
    chunks: i64,
    reserved_chunks: i64,
}

impl HostStats {
    fn apply(&mut self, delta: StatsDelta) {
        self.mailboxes = self.mailboxes.saturating_add_signed(delta.mailboxes);
        self.messages = self.messages.saturating_add_signed(delta.messages);
        self.links = self.links.saturating_add_signed(delta.links);
        self.bytes = self.bytes.saturating_add_signed(delta.bytes);
        self.remembered = self.remembered.saturating_add_signed(delta.remembered);
        self.files = self.files.saturating_add_signed(delta.files);
        self.chunks = self.chunks.saturating_add_signed(delta.chunks);
        self.reserved_chunks = self
            .reserved_chunks
            .saturating_add_signed(delta.reserved_chunks);
    }

    fn with(mut self, delta: StatsDelta) -> Self {
        self.apply(delta);
        self
    }
}

pub struct Host<S> {
    store: S,
    config: HostConfig,
    stats: HostStats,
    /// Checked against when an id is unknown, so an unknown id costs what a bad signature costs.
    decoy_key: VerifyingKey,
    sweep_from: sweep::Position,
    vouchers: VoucherPolicy,
    /// `false` once the store failed and could not be reopened: the shell stops serving.
    usable: bool,
}

impl<S: Store> Host<S> {
    pub fn open(mut store: S, config: HostConfig) -> Result<Self, StoreError> {
        let txn = store.begin()?;
        let stats = HostStats {
            mailboxes: txn.count(Table::Mailboxes)?,
            messages: txn.count(Table::Messages)?,
            links: txn.count(Table::Links)?,
            bytes: txn.stored_bytes(Table::Messages)? + txn.stored_bytes(Table::Links)?,
            remembered: txn.count(Table::Nonces)?,
            files: txn.count(Table::Files)?,
            chunks: txn.count(Table::Chunks)?,
            reserved_chunks: files::reserved(txn.as_ref())?,
        };
        drop(txn);
        Ok(Self {
            store,
            config,
            stats,
            decoy_key: SigningKey::generate(&mut rand::rngs::OsRng).verifying_key(),
            sweep_from: sweep::Position::default(),
            vouchers: VoucherPolicy::default(),
            usable: true,
        })
    }

    /// Requires vouchers of these issuer keys for creations, and issues them if this relay is
    /// the network's issuer.
    pub fn with_vouchers(mut self, vouchers: VoucherPolicy) -> Self {
        self.vouchers = vouchers;
        self
    }

    /// Whether the store still works. After a failed batch or sweep the host reopens its
    /// store (what was committed stays); if even that fails, answering INTERNAL to everything
    /// would help no one, so the shell stops and the operator's supervisor restarts the relay.
    pub fn usable(&self) -> bool {
        self.usable
    }

    fn recover(&mut self) {
        if let Err(error) = self.store.recover() {
            tracing::error!(%error, "cannot reopen the mailbox store");
            self.usable = false;
        }
    }

    pub fn stats(&self) -> HostStats {
        self.stats
    }

    pub fn config(&self) -> HostConfig {
        self.config
    }

    /// New limits, as a reload of `relay.toml` brings: they apply from the next request on;
    /// what is already stored stays.
    pub fn set_config(&mut self, config: HostConfig) {
        self.config = config;
    }

    /// The store itself: for tests that play a curious (or dishonest) host, reading or
    /// altering everything it keeps.
    #[doc(hidden)]
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Answers a batch of request frames at unix time `now`. If the store fails, nothing of the
    /// batch is kept and every request is answered INTERNAL.
    pub fn handle_batch<R: RngCore + CryptoRng>(
        &mut self,
        frames: &[Vec<u8>],
        now: u64,
        rng: &mut R,
    ) -> BatchOutcome {
        match self.try_batch(frames, now, rng) {
            Ok((outcome, delta)) => {
                self.stats.apply(delta);
                outcome
            }
            Err(error) => {
                tracing::error!(%error, "store failed; nothing of the batch was kept");
                // A full disk is the host's to be full, like its budget; anything else is its
                // own failure.
                let (code, limit) = match error {
                    StoreError::NoSpace(_) => (ErrorCode::Full, Some(Limit::DiskFull)),
                    _ => (ErrorCode::Internal, None),
                };
                self.recover();
                let handled = frames
                    .iter()
                    .map(|frame| {
                        let (nonce, command) = match SignedRequest::open(frame) {
                            Ok(signed) => {
                                (signed.request.nonce, Some(signed.request.command.name()))
                            }
                            Err(_) => ([0; 16], None),
                        };
                        let mut refused = answer(nonce, command, ResponseBody::Error(code), None);
                        refused.limit = limit;
                        refused
                    })
                    .collect();
                BatchOutcome {
                    handled,
                    appended: Vec::new(),
                    gone: Vec::new(),
                }
            }
        }
    }

    fn try_batch<R: RngCore + CryptoRng>(
        &mut self,
        frames: &[Vec<u8>],
        now: u64,
        rng: &mut R,
    ) -> Result<(BatchOutcome, StatsDelta), StoreError> {
        let mut txn = self.store.begin()?;
        let mut ctx = commands::Ctx {
            txn: txn.as_mut(),
            now,
            config: &self.config,
            vouchers: &self.vouchers,
            holds: self.stats,
            rng,
            delta: StatsDelta::default(),
            appended: Vec::new(),
            gone: Vec::new(),
            group_write: None,
            limit: None,
            room: Message::BUDGET,
        };
        let units: Vec<Unit> = frames.iter().map(|frame| Unit::open(frame)).collect();
        let runnable: Vec<Option<&SignedRequest>> = units
            .iter()
            .flat_map(Unit::requests)
            .map(|signed| signed.filter(|s| is_fresh(s, now)))
            .collect();
        let mut proven = verify::precheck(&mut ctx, &self.decoy_key, &runnable)?.into_iter();
        let mut handled = Vec::with_capacity(frames.len());
        for unit in &units {
            // What a batch wrote is its own: an `AckWrite` acknowledges only a write of the
            // same frame.
            ctx.group_write = None;
            ctx.room = unit.message_room();
            let mut answers = Vec::new();
            for signed in unit.requests() {
                let signatures = verify::Prechecked(proven.next().flatten());
                answers.push(handle_one(&mut ctx, &self.decoy_key, signed, signatures)?);
            }
            handled.push(match unit {
                Unit::One(_) => answers.remove(0),
                Unit::Batch(_) => batch_answer(answers),
            });
        }
        let (delta, appended, gone) = (ctx.delta, ctx.appended, ctx.gone);
        txn.commit()?;
        Ok((
            BatchOutcome {
                handled,
                appended,
                gone,
            },
            delta,
        ))
    }

    /// Deletes what has expired by `now`: idle mailboxes, old messages, links, old nonces. Works
    /// through the mailboxes a slice at a time; call it about once a second. Returns the read
    /// ids of the mailboxes that went.
    pub fn sweep(&mut self, now: u64) -> Result<Vec<Id>, StoreError> {
        let swept = self.try_sweep(now);
        if swept.is_err() {
            self.recover();
        }
        swept
    }

    fn try_sweep(&mut self, now: u64) -> Result<Vec<Id>, StoreError> {
        let mut txn = self.store.begin()?;
        let swept = sweep::run(txn.as_mut(), now, &self.sweep_from)?;
        self.vouchers.sweep(txn.as_mut(), now)?;
        txn.commit()?;
        self.stats.apply(swept.delta);
        self.sweep_from = swept.next;
        Ok(swept.gone)
    }
}

fn answer(
    nonce: [u8; 16],
    command: Option<&'static str>,
    body: ResponseBody,
    subscribed: Option<Id>,
) -> Handled {
    let error = match body {
        ResponseBody::Error(code) => Some(code),
        _ => None,
    };
    let response = Response { nonce, body };
    let frame = response
        .seal()
        .or_else(|_| {
            Response {
                nonce,
                body: ResponseBody::Error(ErrorCode::Internal),
            }
            .seal()
        })
        .unwrap_or_default();
    Handled {
        frame,
        command,
        error,
        subscribed,
        batched: Vec::new(),
        limit: None,
    }
}

fn is_fresh(signed: &SignedRequest, now: u64) -> bool {
    signed.request.timestamp.abs_diff(now) <= REPLAY_WINDOW_SECS
}

fn handle_one<R: RngCore + CryptoRng>(
    ctx: &mut commands::Ctx<'_, R>,
    decoy_key: &VerifyingKey,
    signed: Option<&SignedRequest>,
    mut signatures: verify::Prechecked,
) -> Result<Handled, StoreError> {
    let Some(signed) = signed else {
        return Ok(answer(
            [0; 16],
            None,
            ResponseBody::Error(ErrorCode::Malformed),
            None,
        ));
    };
    let request = &signed.request;
    let name = request.command.name();
    let reply = |body| Ok(answer(request.nonce, Some(name), body, None));
    if !is_fresh(signed, ctx.now) {
        return reply(ResponseBody::Error(ErrorCode::Stale));
    }
    match replay::recall(ctx.txn, signed) {
        Ok(Some(first)) => return reply(first.body),
        Ok(None) => {}
        Err(StoreError::Corrupt { what, reason }) => {
            tracing::error!(what, %reason, "corrupt record")
        }
        Err(other) => return Err(other),
    }
    let authority = match commands::authorize(ctx, signed, decoy_key, &mut signatures) {
        Ok(Some(authority)) => authority,
        Ok(None) => return reply(ResponseBody::Error(ErrorCode::Auth)),
        Err(StoreError::Corrupt { what, reason }) => {
            tracing::error!(what, %reason, "corrupt record");
            return reply(ResponseBody::Error(ErrorCode::Internal));
        }
        Err(other) => return Err(other),
    };
    let signer = authority.signer();
    let remembers = request.command.mutates();
    if remembers && ctx.holds().remembered >= ctx.config.max_remembered {
        // Run without its answer remembered, a retry could run it twice.
        let mut busy = answer(
            request.nonce,
            Some(name),
            ResponseBody::Error(ErrorCode::Busy),
            None,
        );
        busy.limit = Some(Limit::Remembered);
        return Ok(busy);
    }
    let (body, subscribed) = match commands::execute(ctx, &request.command, authority) {
        Ok(done) => done,
        Err(StoreError::Corrupt { what, reason }) => {
            tracing::error!(what, %reason, "corrupt record");
            (ResponseBody::Error(ErrorCode::Internal), None)
        }
        Err(other) => return Err(other),
    };
    let mut handled = answer(request.nonce, Some(name), body, subscribed);
    handled.limit = ctx.limit.take();
    if handled.limit.is_some() {
        // A refusal for want of room changed nothing: a retry may find room.
        return Ok(handled);
    }
    let (_, encoded) =
        sotto_proto::open_frame(&handled.frame).map_err(|e| StoreError::Backend(e.to_string()))?;
    if replay::remember(ctx.txn, request, &signer, encoded)? {
        ctx.delta.remembered += 1;
    }
    Ok(handled)
}

/// What a verified request may act on.
pub(crate) enum Authority {
    /// A `Create`, `PutLink` or `Issue`, signed by the key it introduces.
    NewObject {
        key: [u8; 32],
    },
    Mailbox {
        cap: Id,
        /// The key that signed: the writer's or this reader's.
        signer: [u8; 32],
        mailbox: [u8; Id::LEN],
        record: Box<records::MailboxRecord>,
    },
    Link {
        id: Id,
        record: records::LinkRecord,
    },
    File {
        /// The key that signed: the uploader's or the recipients'.
        signer: [u8; 32],
        file: [u8; Id::LEN],
        record: Box<records::FileRecord>,
    },
}

impl Authority {
    fn signer(&self) -> [u8; 32] {
        match self {
            Self::NewObject { key }
            | Self::Mailbox { signer: key, .. }
            | Self::File { signer: key, .. } => *key,
            Self::Link { record, .. } => record.owner_key,
        }
    }
}
