//! Reading many mailboxes of one host in few frames: their fetches (each after the
//! acknowledgement of what was read before, if any) ride together in batches, so a device that
//! catches up pays packets per host, not per mailbox. The fetches of a batch share one
//! answer's room; a mailbox whose messages did not all fit is fetched again.

use sotto_proto::batch::MAX_BATCH;
use sotto_proto::{Command, Message, ResponseBody};

use crate::capability::ReadCap;
use crate::mailbox::{open, unexpected, ClientError, MailboxClient};
use crate::transport::Transport;

/// One mailbox to read.
#[derive(Debug, Clone)]
pub struct ToFetch {
    pub read: ReadCap,
    /// Acknowledged first, in the same frame.
    pub ack: Option<u64>,
    /// Fetched in a frame of its own, where the largest message always has room (a batch's
    /// shared room may leave none to a fetch).
    pub alone: bool,
}

/// What a fetch brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The messages, opened, oldest first (those that do not open are left out).
    pub messages: Vec<Message>,
    /// The highest position served, opened or not: acknowledging it passes what did not open.
    pub served_to: Option<u64>,
    /// More wait after these.
    pub more: bool,
}

impl<T: Transport> MailboxClient<T> {
    /// Fetches every mailbox of `reads`, in as few frames as they fit. The outer error is the
    /// network's; each mailbox has its own answer (a mailbox gone is `Host(Auth)`).
    pub async fn fetch_many(
        &self,
        reads: &[ToFetch],
    ) -> Result<Vec<Result<Fetched, ClientError>>, ClientError> {
        let mut answers = Vec::with_capacity(reads.len());
        let mut start = 0;
        while start < reads.len() {
            if reads[start].alone {
                answers.push(self.fetch_alone(&reads[start]).await?);
                start += 1;
                continue;
            }
            let mut end = start;
            let mut parts = 0;
            while end < reads.len() && !reads[end].alone {
                let needs = 1 + usize::from(reads[end].ack.is_some());
                if parts + needs > MAX_BATCH {
                    break;
                }
                parts += needs;
                end += 1;
            }
            answers.extend(self.fetch_batch(&reads[start..end]).await?);
            start = end;
        }
        Ok(answers)
    }

    async fn fetch_alone(
        &self,
        read: &ToFetch,
    ) -> Result<Result<Fetched, ClientError>, ClientError> {
        if let Some(seq) = read.ack {
            match self.ack(&read.read, seq).await {
                Err(error @ ClientError::Host(_)) => return Ok(Err(error)),
                other => other?,
            }
        }
        match self.fetch_page(&read.read).await {
            Err(error @ ClientError::Host(_)) => Ok(Err(error)),
            other => other.map(Ok),
        }
    }

    async fn fetch_batch(
        &self,
        reads: &[ToFetch],
    ) -> Result<Vec<Result<Fetched, ClientError>>, ClientError> {
        let mut parts = Vec::with_capacity(2 * reads.len());
        for read in reads {
            if let Some(seq) = read.ack {
                parts.push((Command::Ack { seq }, read.read.id, &read.read.key));
            }
            parts.push((Command::Fetch, read.read.id, &read.read.key));
        }
        let answers = self
            .call_batch(parts)
            .await
            .ok_or_else(|| ClientError::Protocol("fetches that do not fit a batch".into()))??;
        let mut answers = answers.into_iter();
        let mut next = || {
            answers
                .next()
                .ok_or_else(|| ClientError::Protocol("a batch answer is missing".into()))
        };
        let mut fetched = Vec::with_capacity(reads.len());
        for read in reads {
            let acked = match read.ack {
                Some(_) => match next()? {
                    ResponseBody::Done => Ok(()),
                    other => Err(unexpected(other)),
                },
                None => Ok(()),
            };
            let page = fetched_from(&read.read, next()?);
            fetched.push(acked.and(page));
        }
        Ok(fetched)
    }

    /// Acknowledges each mailbox of `acks` up to its position, as many to a frame as fit.
    /// The outer error is the network's; each mailbox has its own answer.
    pub async fn ack_many(
        &self,
        acks: &[(ReadCap, u64)],
    ) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let mut answers = Vec::with_capacity(acks.len());
        for chunk in acks.chunks(MAX_BATCH) {
            let parts = chunk
                .iter()
                .map(|(read, seq)| (Command::Ack { seq: *seq }, read.id, &read.key))
                .collect();
            let done = self.call_batch(parts).await.ok_or_else(|| {
                ClientError::Protocol("acknowledgements that do not fit".into())
            })??;
            if done.len() != chunk.len() {
                return Err(ClientError::Protocol("a batch answer is missing".into()));
            }
            answers.extend(done.into_iter().map(|body| match body {
                ResponseBody::Done => Ok(()),
                other => Err(unexpected(other)),
            }));
        }
        Ok(answers)
    }

    /// One fetch, alone in its frame, with whether more wait.
    pub(crate) async fn fetch_page(&self, read: &ReadCap) -> Result<Fetched, ClientError> {
        let body = self.call(Command::Fetch, read.id, &read.key).await?;
        fetched_from(read, body)
    }
}

fn fetched_from(read: &ReadCap, body: ResponseBody) -> Result<Fetched, ClientError> {
    let (messages, more) = match body {
        ResponseBody::Messages(messages) => (messages, false),
        ResponseBody::MoreWaiting(messages) => (messages, true),
        other => return Err(unexpected(other)),
    };
    let served_to = messages.iter().map(|m| m.seq).max();
    Ok(Fetched {
        messages: messages
            .into_iter()
            .filter_map(|m| open(&read.content, m))
            .collect(),
        served_to,
        more,
    })
}
