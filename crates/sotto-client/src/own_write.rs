//! Writing to a mailbox this client also reads, so that its own message is not pushed back to
//! it: the write travels with an `AckWrite` for this client's reader in one frame, and with the
//! acknowledgement of what it just read, if any. A text and its receipt cost two packets fewer
//! on each side this way, and the receipt rides with the acknowledgement that prompted it.

use sotto_proto::batch::MAX_BATCH;
use sotto_proto::{Command, Message, ResponseBody, FRAME_BODY_MAX};

use crate::capability::{ReadCap, WriteCap};
use crate::mailbox::{unexpected, ClientError, MailboxClient};
use crate::transport::Transport;

/// Bytes a request takes in a batch besides a write's body: its length, its fixed fields and
/// signature, and a write's own length and argument.
const PART_OVERHEAD: usize = 2 + 113;
const WRITE_ARGUMENT: usize = 2;
const ACK_ARGUMENT: usize = 8;

/// One write of [`MailboxClient::write_own_many`]: as [`MailboxClient::write_own`] takes it.
pub struct OwnWriteRequest<'a> {
    pub write: &'a WriteCap,
    pub own: &'a ReadCap,
    pub ack: Option<u64>,
    pub acknowledge: bool,
    pub plaintext: &'a [u8],
}

impl OwnWriteRequest<'_> {
    /// Its requests in a batch, and the bytes they take there, for a sealed body of `len`.
    fn cost(&self, len: usize) -> (usize, usize) {
        let parts = 1 + usize::from(self.ack.is_some()) + usize::from(self.acknowledge);
        let bytes = parts * PART_OVERHEAD
            + WRITE_ARGUMENT
            + len
            + if self.ack.is_some() { ACK_ARGUMENT } else { 0 };
        (parts, bytes)
    }
}

/// What became of writes made with [`MailboxClient::write_own_many`]: one answer per write, in
/// order, as far as they went, and the failure that stopped the rest (those were perhaps not
/// written).
pub struct OwnWrites {
    pub done: Vec<Result<OwnWrite, ClientError>>,
    pub stopped: Option<ClientError>,
}

/// What became of a write made with [`MailboxClient::write_own`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnWrite {
    /// Its position in the mailbox.
    pub seq: u64,
    /// Acknowledged for this client's reader: nothing came before it unread, and it will not
    /// be pushed back. Otherwise it arrives in order like any message.
    pub acknowledged: bool,
}

impl<T: Transport> MailboxClient<T> {
    /// Writes to several mailboxes of this host (or several messages to one), each as
    /// [`write_own`](Self::write_own) would, in as few frames as they fit: in order, each after
    /// its acknowledgement.
    pub async fn write_own_many(&self, writes: &[OwnWriteRequest<'_>]) -> OwnWrites {
        let mut done = Vec::with_capacity(writes.len());
        let mut bodies = Vec::with_capacity(writes.len());
        for write in writes {
            match write.write.content.seal(write.plaintext) {
                Ok(body) => bodies.push(body),
                Err(error) => {
                    return OwnWrites {
                        done,
                        stopped: Some(error.into()),
                    }
                }
            }
        }
        let mut start = 0;
        while start < writes.len() {
            let (mut end, mut parts, mut bytes) = (start, 0, 1);
            while end < writes.len() {
                let (more_parts, more_bytes) = writes[end].cost(bodies[end].len());
                if parts + more_parts > MAX_BATCH || bytes + more_bytes > FRAME_BODY_MAX {
                    break;
                }
                (parts, bytes, end) = (parts + more_parts, bytes + more_bytes, end + 1);
            }
            let answered = if end == start {
                // Too large to share a frame: as `write_own` does then.
                end = start + 1;
                let write = &writes[start];
                self.write_own(
                    write.write,
                    write.own,
                    write.ack,
                    write.acknowledge,
                    write.plaintext,
                )
                .await
                .map(|written| vec![Ok(written)])
            } else {
                self.write_batch(&writes[start..end], &bodies[start..end])
                    .await
            };
            match answered {
                Ok(answers) => done.extend(answers),
                Err(error) => {
                    return OwnWrites {
                        done,
                        stopped: Some(error),
                    }
                }
            }
            start = end;
        }
        OwnWrites {
            done,
            stopped: None,
        }
    }

    /// Writes that fit one frame, in it.
    async fn write_batch(
        &self,
        writes: &[OwnWriteRequest<'_>],
        bodies: &[Vec<u8>],
    ) -> Result<Vec<Result<OwnWrite, ClientError>>, ClientError> {
        let mut parts = Vec::new();
        for (write, body) in writes.iter().zip(bodies) {
            if let Some(seq) = write.ack {
                parts.push((Command::Ack { seq }, write.own.id, &write.own.key));
            }
            parts.push((
                Command::Write { body: body.clone() },
                write.write.id,
                &write.write.key,
            ));
            if write.acknowledge {
                parts.push((Command::AckWrite, write.own.id, &write.own.key));
            }
        }
        let answers = self
            .call_batch(parts)
            .await
            .ok_or_else(|| ClientError::Protocol("writes that do not fit a batch".into()))??;
        let mut answers = answers.into_iter();
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            let mut next = || {
                answers
                    .next()
                    .ok_or_else(|| ClientError::Protocol("a batch answer is missing".into()))
            };
            let acked = match write.ack {
                Some(_) => Some(next()?),
                None => None,
            };
            let written = next()?;
            let own = if write.acknowledge {
                Some(next()?)
            } else {
                None
            };
            results.push(self.own_write(write.own, acked, written, own));
        }
        Ok(results)
    }

    /// Reads the answers to one write's requests: its acknowledgement's, its own, and its
    /// `AckWrite`'s, as they were sent.
    fn own_write(
        &self,
        own: &ReadCap,
        acked: Option<ResponseBody>,
        written: ResponseBody,
        acknowledged: Option<ResponseBody>,
    ) -> Result<OwnWrite, ClientError> {
        match acked {
            None | Some(ResponseBody::Done) => {}
            Some(other) => return Err(unexpected(other)),
        }
        let seq = match written {
            ResponseBody::Written { seq } => seq,
            other => return Err(unexpected(other)),
        };
        let acknowledged = match acknowledged {
            None | Some(ResponseBody::Skipped) => false,
            Some(ResponseBody::Done) => true,
            Some(other) => return Err(unexpected(other)),
        };
        if acknowledged {
            // Handed out already, so the next push is the next in order, not a gap.
            let written = Message {
                seq,
                written_at: 0,
                body: Vec::new(),
            };
            self.inbox().handed_out(own.id, &[written]);
        }
        Ok(OwnWrite { seq, acknowledged })
    }

    /// Seals and appends `plaintext` to a mailbox this client also reads through `own`: after
    /// acknowledging `ack` (what it just read) if given, and, if `acknowledge`, acknowledging
    /// the write itself for `own` (for a client subscribed to the mailbox, which applies its
    /// own message at once). All in one frame when they fit.
    pub async fn write_own(
        &self,
        write: &WriteCap,
        own: &ReadCap,
        ack: Option<u64>,
        acknowledge: bool,
        plaintext: &[u8],
    ) -> Result<OwnWrite, ClientError> {
        let body = write.content.seal(plaintext)?;
        let not_acknowledged = |seq| OwnWrite {
            seq,
            acknowledged: false,
        };
        if ack.is_none() && !acknowledge {
            return self.write_sealed(write, body).await.map(not_acknowledged);
        }
        let mut parts = Vec::with_capacity(3);
        if let Some(seq) = ack {
            parts.push((Command::Ack { seq }, own.id, &own.key));
        }
        parts.push((Command::Write { body: body.clone() }, write.id, &write.key));
        if acknowledge {
            parts.push((Command::AckWrite, own.id, &own.key));
        }
        let Some(answers) = self.call_batch(parts).await else {
            // Too large to share a frame: one request after the other, and the message comes
            // back as a push.
            if let Some(seq) = ack {
                self.ack(own, seq).await?;
            }
            return self.write_sealed(write, body).await.map(not_acknowledged);
        };
        let mut answers = answers?.into_iter();
        let mut next = || {
            answers
                .next()
                .ok_or_else(|| ClientError::Protocol("a batch answer is missing".into()))
        };
        let acked = match ack {
            Some(_) => Some(next()?),
            None => None,
        };
        let written = next()?;
        let acknowledged = if acknowledge { Some(next()?) } else { None };
        self.own_write(own, acked, written, acknowledged)
    }
}
