//! Writing to a mailbox this client also reads, so that its own message is not pushed back to
//! it: the write travels with an `AckWrite` for this client's reader in one frame, and with the
//! acknowledgement of what it just read, if any. A text and its receipt cost two packets fewer
//! on each side this way, and the receipt rides with the acknowledgement that prompted it.

use sotto_proto::{Command, Message, ResponseBody};

use crate::capability::{ReadCap, WriteCap};
use crate::mailbox::{unexpected, ClientError, MailboxClient};
use crate::transport::Transport;

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
        if ack.is_some() {
            match next()? {
                ResponseBody::Done => {}
                other => return Err(unexpected(other)),
            }
        }
        let seq = match next()? {
            ResponseBody::Written { seq } => seq,
            other => return Err(unexpected(other)),
        };
        let acknowledged = acknowledge
            && match next()? {
                ResponseBody::Done => true,
                ResponseBody::Skipped => false,
                other => return Err(unexpected(other)),
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
}
