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
    /// Seals and appends `plaintext`, acknowledging it for `own` (this client's reader of the
    /// same mailbox) in the same frame, after acknowledging `ack` (what this client just read)
    /// if given.
    pub async fn write_own(
        &self,
        write: &WriteCap,
        own: &ReadCap,
        ack: Option<u64>,
        plaintext: &[u8],
    ) -> Result<OwnWrite, ClientError> {
        let body = write.content.seal(plaintext)?;
        let mut parts = Vec::with_capacity(3);
        if let Some(seq) = ack {
            parts.push((Command::Ack { seq }, own.id, &own.key));
        }
        parts.push((Command::Write { body: body.clone() }, write.id, &write.key));
        parts.push((Command::AckWrite, own.id, &own.key));
        let Some(answers) = self.call_batch(parts).await else {
            // Too large to share a frame: one request after the other, and the message comes
            // back as a push.
            if let Some(seq) = ack {
                self.ack(own, seq).await?;
            }
            let seq = self.write_sealed(write, body).await?;
            return Ok(OwnWrite {
                seq,
                acknowledged: false,
            });
        };
        let mut answers = answers?.into_iter();
        if ack.is_some() {
            match answers.next() {
                Some(ResponseBody::Done) => {}
                Some(other) => return Err(unexpected(other)),
                None => return Err(ClientError::Protocol("a batch answer is missing".into())),
            }
        }
        let seq = match answers.next() {
            Some(ResponseBody::Written { seq }) => seq,
            Some(other) => return Err(unexpected(other)),
            None => return Err(ClientError::Protocol("a batch answer is missing".into())),
        };
        let acknowledged = match answers.next() {
            Some(ResponseBody::Done) => true,
            Some(ResponseBody::Skipped) => false,
            Some(other) => return Err(unexpected(other)),
            None => return Err(ClientError::Protocol("a batch answer is missing".into())),
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
