//! Subscribing to many mailboxes of one host at once: their subscribes ride in batch frames
//! (protocol §7.3), so a device that listens to N mailboxes there, or renews their
//! subscriptions, pays a packet per 16 mailboxes rather than one per mailbox. The host keeps
//! the reply blocks of such a frame as one pool its readers share (§16.3).

use sotto_proto::batch::MAX_BATCH;
use sotto_proto::{Command, Message, ResponseBody};

use super::{open, unexpected, MailboxClient};
use crate::capability::ReadCap;
use crate::transport::Transport;
use crate::ClientError;

impl<T: Transport> MailboxClient<T> {
    /// Subscribes every mailbox of `reads` (all at this client's host), handing what already
    /// waits out through [`next_push`](Self::next_push) like any push. One result per
    /// mailbox, in order (a mailbox gone is its own `Auth` error); an error for the whole
    /// when a frame could not go or its answer makes no sense.
    pub async fn listen_many(
        &self,
        reads: &[ReadCap],
    ) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let registered = self.register_many(reads).await?;
        Ok(reads
            .iter()
            .zip(registered)
            .map(|(read, waiting)| waiting.map(|waiting| self.inbox().fetched(read.id, waiting)))
            .collect())
    }

    /// Subscribes (again) without marking what waits as delivered; one result per mailbox.
    pub(super) async fn register_many(
        &self,
        reads: &[ReadCap],
    ) -> Result<Vec<Result<Vec<Message>, ClientError>>, ClientError> {
        let mut results = Vec::with_capacity(reads.len());
        for chunk in reads.chunks(MAX_BATCH) {
            // One alone goes as a single request, as it always did.
            if let [read] = chunk {
                results.push(self.register(read).await);
                continue;
            }
            let epoch = self.transport.epoch();
            let parts = chunk
                .iter()
                .map(|read| (Command::Subscribe, read.id, &read.key))
                .collect();
            let answers = self.call_batch(parts).await.ok_or_else(|| {
                ClientError::Protocol("subscribes that do not fit one frame".into())
            })??;
            for (read, body) in chunk.iter().zip(answers) {
                let waiting = match body {
                    // The frame's room ran out before this mailbox: what waits there comes
                    // alone, or it would wait for the next push or renewal.
                    ResponseBody::MoreWaiting(messages) if messages.is_empty() => {
                        self.subscribed(read, epoch);
                        self.fetch(read).await
                    }
                    ResponseBody::Messages(messages) | ResponseBody::MoreWaiting(messages) => {
                        self.subscribed(read, epoch);
                        Ok(messages
                            .into_iter()
                            .filter_map(|m| open(&read.content, m))
                            .collect())
                    }
                    other => Err(unexpected(other)),
                };
                results.push(waiting);
            }
        }
        Ok(results)
    }
}
