//! The mailbox client: every mailbox command as an async call over any [`Transport`].

use std::sync::Mutex;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use rand::RngCore;
use sotto_proto::{
    Command, ErrorCode, Fingerprint, Id, MailboxKind, Message, Push, Request, Response,
    ResponseBody,
};
use sotto_quic::unix_now;
use thiserror::Error;

use crate::capability::{Link, LinkCap, NewMailbox, ReadCap, WriteCap};
use crate::content::{ContentError, ContentKey, LinkKey};
use crate::inbox::{Arrival, Inbox};
use crate::transport::{Transport, TransportError};
use sotto_proto::batch::{open_answers, seal_batch};
use sotto_proto::voucher::{Voucher, VoucherKey, MAX_ISSUE};

mod subscribe_many;

/// The highest sequence number a host can reach honestly (SQLite's integers, on both sides).
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// How often a client waiting for pushes checks that its subscriptions still stand.
const SUBSCRIPTION_CHECK: Duration = Duration::from_secs(1);

/// Pauses before sending a request the host answered BUSY once more. BUSY means a limit on work
/// in flight (remembered answers, subscriptions), which frees within seconds to minutes; nothing
/// ran and the answer was not remembered, so the very same frame is sent again. After the last
/// pause BUSY goes to the caller.
const BUSY_PAUSES: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(8),
];

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("the host refused: {0}")]
    Host(ErrorCode),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the host's answer makes no sense: {0}")]
    Protocol(String),
    #[error(transparent)]
    Content(#[from] ContentError),
}

impl ClientError {
    /// The host's error code, if the host refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Host(code) => Some(*code),
            _ => None,
        }
    }
}

/// What to ask for when creating a mailbox; zeros take the host's defaults.
#[derive(Debug, Clone, Copy)]
pub struct MailboxOptions {
    pub kind: MailboxKind,
    pub ttl_secs: u32,
    pub quota: u16,
}

impl MailboxOptions {
    pub fn new(kind: MailboxKind) -> Self {
        Self {
            kind,
            ttl_secs: 0,
            quota: 0,
        }
    }
}

struct Subscription {
    read: ReadCap,
    epoch: u64,
}

pub struct MailboxClient<T> {
    transport: T,
    subscriptions: Mutex<Vec<Subscription>>,
    /// What subscriptions received, handed out once and in order as pushes.
    inbox: Mutex<Inbox>,
}

/// A request with a new random nonce, made now.
fn fresh_request(command: Command, target: Id) -> Request {
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    Request {
        command,
        nonce,
        timestamp: unix_now(),
        target,
    }
}

pub(crate) fn unexpected(body: ResponseBody) -> ClientError {
    match body {
        ResponseBody::Error(code) => ClientError::Host(code),
        other => ClientError::Protocol(format!("unexpected answer {other:?}")),
    }
}

const NO_TARGET: Id = Id::from_bytes([0; Id::LEN]);

impl<T: Transport> MailboxClient<T> {
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            subscriptions: Mutex::new(Vec::new()),
            inbox: Mutex::new(Inbox::default()),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub(crate) async fn call(
        &self,
        command: Command,
        target: Id,
        key: &SigningKey,
    ) -> Result<ResponseBody, ClientError> {
        let request = fresh_request(command, target);
        let nonce = request.nonce;
        let frame = request
            .seal(key)
            .map_err(|e| ClientError::Protocol(format!("cannot encode the request: {e}")))?;
        let mut pauses = BUSY_PAUSES.iter();
        loop {
            let answer = self.transport.round_trip(frame.clone()).await?;
            let response =
                Response::open(&answer).map_err(|e| ClientError::Protocol(e.to_string()))?;
            if response.nonce != nonce {
                return Err(ClientError::Protocol(
                    "the answer is for another request".into(),
                ));
            }
            match (response.body, pauses.next()) {
                (ResponseBody::Error(ErrorCode::Busy), Some(pause)) => {
                    tokio::time::sleep(*pause).await
                }
                (body, _) => return Ok(body),
            }
        }
    }

    /// Sends `parts` to the host in one frame, run in order there, and returns their answers
    /// in order. `None` if they do not fit one frame (the caller sends them one by one).
    pub(crate) async fn call_batch(
        &self,
        parts: Vec<(Command, Id, &SigningKey)>,
    ) -> Option<Result<Vec<ResponseBody>, ClientError>> {
        let requests: Vec<(Request, &SigningKey)> = parts
            .into_iter()
            .map(|(command, target, key)| (fresh_request(command, target), key))
            .collect();
        let frame = seal_batch(&requests).ok()?;
        Some(self.batch_answers(frame, &requests).await)
    }

    async fn batch_answers(
        &self,
        frame: Vec<u8>,
        requests: &[(Request, &SigningKey)],
    ) -> Result<Vec<ResponseBody>, ClientError> {
        let answer = self.transport.round_trip(frame).await?;
        let responses = match open_answers(&answer) {
            Ok(responses) => responses,
            // A host refusing the whole frame answers as to a single request.
            Err(_) => match Response::open(&answer) {
                Ok(Response {
                    body: ResponseBody::Error(code),
                    ..
                }) => return Err(ClientError::Host(code)),
                _ => return Err(ClientError::Protocol("an unreadable batch answer".into())),
            },
        };
        let matches = responses.len() == requests.len()
            && responses
                .iter()
                .zip(requests)
                .all(|(response, (request, _))| response.nonce == request.nonce);
        if !matches {
            return Err(ClientError::Protocol(
                "the answers are for another batch".into(),
            ));
        }
        Ok(responses.into_iter().map(|r| r.body).collect())
    }

    pub async fn create(&self, options: MailboxOptions) -> Result<NewMailbox, ClientError> {
        self.create_paid(options, None).await
    }

    /// Creates a mailbox, spending `voucher` on a network whose hosts require one.
    pub async fn create_paid(
        &self,
        options: MailboxOptions,
        voucher: Option<Voucher>,
    ) -> Result<NewMailbox, ClientError> {
        let writer = SigningKey::generate(&mut OsRng);
        let reader = SigningKey::generate(&mut OsRng);
        let command = Command::Create {
            kind: options.kind,
            ttl_secs: options.ttl_secs,
            quota: options.quota,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
            voucher,
        };
        let content = ContentKey::random();
        match self.call(command, NO_TARGET, &reader).await? {
            ResponseBody::Created { write_id, read_id } => Ok(NewMailbox {
                write: WriteCap {
                    id: write_id,
                    key: writer,
                    content: content.clone(),
                },
                read: ReadCap {
                    id: read_id,
                    key: reader,
                    content,
                },
            }),
            other => Err(unexpected(other)),
        }
    }

    /// Seals and appends a message; returns its sequence number.
    pub async fn write(&self, cap: &WriteCap, plaintext: &[u8]) -> Result<u64, ClientError> {
        let body = cap.content.seal(plaintext)?;
        self.write_sealed(cap, body).await
    }

    pub(crate) async fn write_sealed(
        &self,
        cap: &WriteCap,
        body: Vec<u8>,
    ) -> Result<u64, ClientError> {
        match self.call(Command::Write { body }, cap.id, &cap.key).await? {
            ResponseBody::Written { seq } => Ok(seq),
            other => Err(unexpected(other)),
        }
    }

    /// The waiting messages, opened, oldest first, as many as fit one answer. A message that
    /// does not open (forged by someone holding only the write id) is left out; acknowledging a
    /// later message passes it.
    pub async fn fetch(&self, cap: &ReadCap) -> Result<Vec<Message>, ClientError> {
        Ok(self.fetch_page(cap).await?.messages)
    }

    /// Asks for every new message as a push; returns the ones already waiting.
    pub async fn subscribe(&self, cap: &ReadCap) -> Result<Vec<Message>, ClientError> {
        let waiting = self.register(cap).await?;
        self.inbox().handed_out(cap.id, &waiting);
        Ok(waiting)
    }

    /// Subscribes, handing what already waits out through [`next_push`](Self::next_push) like
    /// any push: one subscription replaces a fetch, and everything arrives one way.
    pub async fn listen(&self, cap: &ReadCap) -> Result<(), ClientError> {
        let waiting = self.register(cap).await?;
        self.inbox().fetched(cap.id, waiting);
        Ok(())
    }

    /// Subscribes (again) without marking what waits as delivered.
    async fn register(&self, cap: &ReadCap) -> Result<Vec<Message>, ClientError> {
        let epoch = self.transport.epoch();
        let waiting = match self.call(Command::Subscribe, cap.id, &cap.key).await? {
            // What did not fit comes once these are acknowledged: with the next push, which
            // shows the gap (`Inbox`), or the next renewal.
            ResponseBody::Messages(messages) | ResponseBody::MoreWaiting(messages) => messages
                .into_iter()
                .filter_map(|m| open(&cap.content, m))
                .collect(),
            other => return Err(unexpected(other)),
        };
        self.subscribed(cap, epoch);
        Ok(waiting)
    }

    /// Records that `cap` is subscribed on the path of transport epoch `epoch`.
    fn subscribed(&self, cap: &ReadCap, epoch: u64) {
        let mut subscriptions = self.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        match subscriptions.iter_mut().find(|s| s.read.id == cap.id) {
            Some(existing) => existing.epoch = epoch,
            None => subscriptions.push(Subscription {
                read: cap.clone(),
                epoch,
            }),
        }
    }

    pub(crate) fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Acknowledges every message up to `seq`; the host deletes what all readers acknowledged.
    pub async fn ack(&self, cap: &ReadCap, seq: u64) -> Result<(), ClientError> {
        self.done(Command::Ack { seq }, cap.id, &cap.key).await
    }

    async fn done(
        &self,
        command: Command,
        target: Id,
        key: &SigningKey,
    ) -> Result<(), ClientError> {
        match self.call(command, target, key).await? {
            ResponseBody::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Gives a new reader (another device, say) its own read capability.
    pub async fn add_reader(&self, cap: &ReadCap) -> Result<ReadCap, ClientError> {
        let key = SigningKey::generate(&mut OsRng);
        let id = self.add_reader_key(cap, key.verifying_key()).await?;
        Ok(ReadCap {
            id,
            key,
            content: cap.content.clone(),
        })
    }

    /// Registers a reader whose key someone else holds (a device joining a group, say):
    /// returns the read id the host gave it.
    pub async fn add_reader_key(
        &self,
        cap: &ReadCap,
        reader_key: ed25519_dalek::VerifyingKey,
    ) -> Result<Id, ClientError> {
        match self
            .call(Command::AddReader { reader_key }, cap.id, &cap.key)
            .await?
        {
            ResponseBody::ReaderAdded { read_id } => Ok(read_id),
            other => Err(unexpected(other)),
        }
    }

    pub async fn remove_reader(&self, cap: &ReadCap, read_id: Id) -> Result<(), ClientError> {
        self.done(Command::RemoveReader { read_id }, cap.id, &cap.key)
            .await
    }

    pub async fn delete(&self, cap: &ReadCap) -> Result<(), ClientError> {
        self.done(Command::Delete, cap.id, &cap.key).await?;
        self.forget_subscription(&cap.id);
        Ok(())
    }

    /// Whether any mailbox is subscribed through this client.
    pub fn is_subscribed(&self) -> bool {
        !self
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    fn forget_subscription(&self, read_id: &Id) {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s| s.read.id != *read_id);
    }

    /// Seals `plaintext` under a fresh key and stores it for `ttl_secs` (0: the host's
    /// default). Returns the link to share and the capability to delete it early.
    pub async fn put_link(
        &self,
        ttl_secs: u32,
        plaintext: &[u8],
    ) -> Result<(Link, LinkCap), ClientError> {
        self.put_link_paid(ttl_secs, plaintext, None).await
    }

    /// As [`MailboxClient::put_link`], spending `voucher` on a network whose hosts require one.
    pub async fn put_link_paid(
        &self,
        ttl_secs: u32,
        plaintext: &[u8],
        voucher: Option<Voucher>,
    ) -> Result<(Link, LinkCap), ClientError> {
        let content = LinkKey::random();
        let data = content.seal(plaintext)?;
        let key = SigningKey::generate(&mut OsRng);
        let command = Command::PutLink {
            ttl_secs,
            owner_key: key.verifying_key(),
            data,
            voucher,
        };
        match self.call(command, NO_TARGET, &key).await? {
            ResponseBody::LinkStored { link_id } => Ok((
                Link {
                    id: link_id,
                    content,
                },
                LinkCap { id: link_id, key },
            )),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the network's issuer (the relay behind this client) for vouchers of `key`, one to
    /// spend at each of `hosts` (at most 32), signed blind: the issuer learns `device`'s public
    /// key and the count, never the vouchers or their hosts.
    pub async fn issue(
        &self,
        device: &SigningKey,
        key: &VoucherKey,
        hosts: &[Fingerprint],
    ) -> Result<Vec<Voucher>, ClientError> {
        let blinded = hosts
            .iter()
            .take(MAX_ISSUE)
            .map(|host| key.blind(host))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let command = Command::Issue {
            device_key: device.verifying_key(),
            epoch: key.epoch(),
            blinded: blinded.iter().map(|b| b.message()).collect(),
        };
        match self.call(command, NO_TARGET, device).await? {
            ResponseBody::Issued(signatures) if signatures.len() == blinded.len() => blinded
                .iter()
                .zip(&signatures)
                .map(|(b, s)| key.finalize(b, s))
                .collect::<Result<_, _>>()
                .map_err(|e| ClientError::Protocol(format!("the issuer's answer: {e}"))),
            other => Err(unexpected(other)),
        }
    }

    /// Reads and opens a link's data.
    pub async fn get_link(&self, link: &Link) -> Result<Vec<u8>, ClientError> {
        // Reading a link is unsigned; any key fills the signature field.
        let key = SigningKey::generate(&mut OsRng);
        match self.call(Command::GetLink, link.id, &key).await? {
            ResponseBody::LinkData(data) => Ok(link.content.open(&data)?),
            other => Err(unexpected(other)),
        }
    }

    pub async fn delete_link(&self, cap: &LinkCap) -> Result<(), ClientError> {
        self.done(Command::DeleteLink, cap.id, &cap.key).await
    }

    /// The next pushed message, each once and in order per mailbox. If the path carrying
    /// pushes was lost, subscriptions are renewed first; if a push shows that an earlier one was
    /// lost or overtaken, the mailbox is fetched. Either way what waited comes out here, so
    /// pushes never silently stop or skip.
    pub async fn next_push(&self) -> Result<Push, ClientError> {
        loop {
            if let Some(push) = self.inbox().pop() {
                return Ok(push);
            }
            self.renew_subscriptions().await?;
            if self.inbox().has_ready() {
                continue;
            }
            let frame =
                match tokio::time::timeout(SUBSCRIPTION_CHECK, self.transport.next_push()).await {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return Err(TransportError::Closed.into()),
                    Err(_) => continue,
                };
            let push = Push::open(&frame).map_err(|e| ClientError::Protocol(e.to_string()))?;
            let Some((read, push)) = self.open_push(push) else {
                continue;
            };
            let arrival = self.inbox().pushed(push);
            match arrival {
                Arrival::Next(push) => return Ok(push),
                Arrival::Seen => {}
                Arrival::Gap => {
                    let waiting = self.fetch(&read).await?;
                    self.inbox().fetched(read.id, waiting);
                }
            }
        }
    }

    /// Opens a pushed message with its subscription's key; `None` for unknown or forged ones.
    fn open_push(&self, push: Push) -> Option<(ReadCap, Push)> {
        let subscriptions = self.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        let read = &subscriptions
            .iter()
            .find(|s| s.read.id == push.read_id)?
            .read;
        let message = open(&read.content, push.message)?;
        Some((
            read.clone(),
            Push {
                read_id: push.read_id,
                message,
            },
        ))
    }

    async fn renew_subscriptions(&self) -> Result<(), ClientError> {
        let epoch = self.transport.epoch();
        let stale: Vec<ReadCap> = self
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| s.epoch < epoch)
            .map(|s| s.read.clone())
            .collect();
        let registered = self.register_many(&stale).await?;
        let mut failed = Ok(());
        for (read, waiting) in stale.iter().zip(registered) {
            match waiting {
                Ok(waiting) => self.inbox().fetched(read.id, waiting),
                // The mailbox is gone (deleted, expired): nothing more will come from it, and
                // failing here would keep every other subscription of this host from renewing.
                Err(ClientError::Host(ErrorCode::Auth)) => self.forget_subscription(&read.id),
                Err(error) => failed = failed.and(Err(error)),
            }
        }
        failed
    }
}

pub(crate) fn open(content: &ContentKey, message: Message) -> Option<Message> {
    if message.seq > MAX_SEQ {
        // A position no honest host reaches; taken in, it would stop every later message.
        tracing::warn!(
            seq = message.seq,
            "skipping a message at an impossible position"
        );
        return None;
    }
    match content.open(&message.body) {
        Ok(body) => Some(Message { body, ..message }),
        Err(error) => {
            tracing::warn!(%error, seq = message.seq, "skipping a message that does not open");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Answers BUSY `busy` times, then DONE, always to the frame's own nonce.
    struct BusyHost {
        busy: usize,
        asked: Arc<AtomicUsize>,
    }

    impl Transport for BusyHost {
        async fn round_trip(&self, frame: Vec<u8>) -> Result<Vec<u8>, TransportError> {
            let nonce = sotto_proto::SignedRequest::open(&frame)
                .map_err(|e| TransportError::Protocol(e.to_string()))?
                .request
                .nonce;
            let body = if self.asked.fetch_add(1, Ordering::SeqCst) < self.busy {
                ResponseBody::Error(ErrorCode::Busy)
            } else {
                ResponseBody::Done
            };
            Response { nonce, body }
                .seal()
                .map_err(|e| TransportError::Protocol(e.to_string()))
        }

        async fn next_push(&self) -> Option<Vec<u8>> {
            None
        }

        fn epoch(&self) -> u64 {
            0
        }
    }

    async fn ask(busy: usize) -> (Result<ResponseBody, ClientError>, usize) {
        let asked = Arc::new(AtomicUsize::new(0));
        let client = MailboxClient::new(BusyHost {
            busy,
            asked: asked.clone(),
        });
        let key = SigningKey::generate(&mut OsRng);
        let answer = client.call(Command::Fetch, NO_TARGET, &key).await;
        (answer, asked.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_host_is_asked_again_after_pauses_then_busy_is_the_answer() {
        let started = tokio::time::Instant::now();
        let (answer, asked) = ask(2).await;
        assert_eq!(answer.unwrap(), ResponseBody::Done);
        assert_eq!(asked, 3);
        assert_eq!(started.elapsed(), BUSY_PAUSES[0] + BUSY_PAUSES[1]);

        let (answer, asked) = ask(usize::MAX).await;
        assert_eq!(answer.unwrap(), ResponseBody::Error(ErrorCode::Busy));
        assert_eq!(asked, BUSY_PAUSES.len() + 1);
    }
}
