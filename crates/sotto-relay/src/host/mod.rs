//! The mailbox host as a state machine: request frames and the time go in; response frames,
//! the messages to push and counters come out. It never touches a socket or a clock, so every
//! rule is tested deterministically.
//!
//! A batch of requests runs in one store transaction (group commit): one disk sync answers many
//! writes, and no answer leaves before the data it reports is durable.

mod commands;
#[cfg(test)]
mod model_tests;
mod records;
mod replay;
mod sweep;
#[cfg(test)]
mod tests;
mod verify;

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sotto_proto::{
    ErrorCode, Id, Message, Response, ResponseBody, SignedRequest, REPLAY_WINDOW_SECS,
};

use crate::store::{Store, StoreError, Table};

/// Limits and defaults a relay operator sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostConfig {
    pub default_ttl_secs: u32,
    pub max_ttl_secs: u32,
    pub default_quota: u16,
    pub max_quota: u16,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            default_ttl_secs: 21 * 24 * 3600,
            max_ttl_secs: 90 * 24 * 3600,
            default_quota: 128,
            max_quota: 1024,
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
    /// Set when an authorized subscribe asks for pushes to this read id.
    pub subscribed: Option<Id>,
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
}

/// Counts that identify nothing: how much the host holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    pub mailboxes: u64,
    pub messages: u64,
    pub links: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct StatsDelta {
    mailboxes: i64,
    messages: i64,
    links: i64,
}

impl HostStats {
    fn apply(&mut self, delta: StatsDelta) {
        self.mailboxes = self.mailboxes.saturating_add_signed(delta.mailboxes);
        self.messages = self.messages.saturating_add_signed(delta.messages);
        self.links = self.links.saturating_add_signed(delta.links);
    }
}

pub struct Host<S> {
    store: S,
    config: HostConfig,
    stats: HostStats,
    /// Checked against when an id is unknown, so an unknown id costs what a bad signature costs.
    decoy_key: VerifyingKey,
    sweep_from: sweep::Position,
}

impl<S: Store> Host<S> {
    pub fn open(mut store: S, config: HostConfig) -> Result<Self, StoreError> {
        let txn = store.begin()?;
        let stats = HostStats {
            mailboxes: txn.count(Table::Mailboxes)?,
            messages: txn.count(Table::Messages)?,
            links: txn.count(Table::Links)?,
        };
        drop(txn);
        Ok(Self {
            store,
            config,
            stats,
            decoy_key: SigningKey::generate(&mut rand::rngs::OsRng).verifying_key(),
            sweep_from: sweep::Position::default(),
        })
    }

    pub fn stats(&self) -> HostStats {
        self.stats
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
                tracing::error!(%error, "store failed; answering the batch INTERNAL");
                let handled = frames
                    .iter()
                    .map(|frame| {
                        let (nonce, command) = match SignedRequest::open(frame) {
                            Ok(signed) => {
                                (signed.request.nonce, Some(signed.request.command.name()))
                            }
                            Err(_) => ([0; 16], None),
                        };
                        answer(
                            nonce,
                            command,
                            ResponseBody::Error(ErrorCode::Internal),
                            None,
                        )
                    })
                    .collect();
                BatchOutcome {
                    handled,
                    appended: Vec::new(),
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
            rng,
            delta: StatsDelta::default(),
            appended: Vec::new(),
        };
        let decoded: Vec<Option<SignedRequest>> = frames
            .iter()
            .map(|frame| SignedRequest::open(frame).ok())
            .collect();
        let runnable: Vec<Option<&SignedRequest>> = decoded
            .iter()
            .map(|signed| signed.as_ref().filter(|s| is_fresh(s, now)))
            .collect();
        let proven = verify::precheck(&mut ctx, &self.decoy_key, &runnable)?;
        let mut handled = Vec::with_capacity(frames.len());
        for (signed, proven) in decoded.iter().zip(proven) {
            let signatures = verify::Prechecked(proven);
            handled.push(handle_one(
                &mut ctx,
                &self.decoy_key,
                signed.as_ref(),
                signatures,
            )?);
        }
        let (delta, appended) = (ctx.delta, ctx.appended);
        txn.commit()?;
        Ok((BatchOutcome { handled, appended }, delta))
    }

    /// Deletes what has expired by `now`: idle mailboxes, old messages, links, old nonces. Works
    /// through the mailboxes a slice at a time; call it about once a second.
    pub fn sweep(&mut self, now: u64) -> Result<(), StoreError> {
        let mut txn = self.store.begin()?;
        let (delta, next) = sweep::run(txn.as_mut(), now, &self.sweep_from)?;
        txn.commit()?;
        self.stats.apply(delta);
        self.sweep_from = next;
        Ok(())
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
    let (body, subscribed) = match commands::execute(ctx, &request.command, authority) {
        Ok(done) => done,
        Err(StoreError::Corrupt { what, reason }) => {
            tracing::error!(what, %reason, "corrupt record");
            (ResponseBody::Error(ErrorCode::Internal), None)
        }
        Err(other) => return Err(other),
    };
    let handled = answer(request.nonce, Some(name), body, subscribed);
    let (_, encoded) =
        sotto_proto::open_frame(&handled.frame).map_err(|e| StoreError::Backend(e.to_string()))?;
    replay::remember(ctx.txn, request, &signer, encoded)?;
    Ok(handled)
}

/// What a verified request may act on.
pub(crate) enum Authority {
    /// A `Create` or `PutLink`, signed by the key it introduces.
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
}

impl Authority {
    fn signer(&self) -> [u8; 32] {
        match self {
            Self::NewObject { key } | Self::Mailbox { signer: key, .. } => *key,
            Self::Link { record, .. } => record.owner_key,
        }
    }
}
