//! What runs of messages leave to send, for several conversations of one host at once: each
//! conversation's resends and owed receipts, sealed in order, its acknowledgement riding with
//! the first of them (or with the other conversations' lone acknowledgements), all in as few
//! frames as fit. So answering what a catch-up or a batch of pushes brought costs packets per
//! host, not per conversation.

use sotto_proto::conversation::{Content, MessageId, MAX_RECEIPT_IDS};
use sotto_proto::{Fingerprint, Message};

use super::sync::{report, Outcome};
use super::{Device, Network};
use crate::conversation::apply::{apply, digest, Applied};
use crate::conversation::seal::seal;
use crate::conversation::{encoding, ConversationError, Event};
use crate::own_write::{OwnWrite, OwnWriteRequest};
use crate::store::Conversation;
use crate::ClientError;

/// One conversation's run to answer: what it brought, and the position to acknowledge.
pub(super) struct Run {
    pub conversation: Conversation,
    pub outcome: Outcome,
    pub ack: Option<u64>,
}

/// A sealed message to write, and the receipts it carries (to forget once written).
struct Sealed {
    run: usize,
    wire: Vec<u8>,
    receipts: Vec<MessageId>,
}

impl<N: Network> Device<N> {
    /// Sends what `runs`, all of conversations on `host`, left. Returns the conversations
    /// done; the others' failures are their events. Only the network failing is an error
    /// (what it left unsent stays owed, or comes back to be sealed again).
    pub(super) async fn write_back(
        &mut self,
        host: Fingerprint,
        runs: Vec<Run>,
        events: &mut Vec<Event>,
    ) -> Result<Vec<i64>, ConversationError> {
        let mut failed = vec![false; runs.len()];
        let mut sealed = Vec::new();
        for (index, run) in runs.iter().enumerate() {
            report_delivered(&run.conversation, &run.outcome, events);
            if run.outcome.ended {
                continue;
            }
            match self.seal_run(index, run) {
                Ok(more) => sealed.extend(more),
                Err(error) => {
                    failed[index] = true;
                    report(run.conversation.alias.clone(), error, events)?;
                }
            }
        }
        let client = self.host(host).await?;
        // Each acknowledgement rides with its conversation's first message, if it has one.
        let mut first = vec![true; runs.len()];
        let requests: Vec<OwnWriteRequest<'_>> = sealed
            .iter()
            .map(|s| {
                let run = &runs[s.run];
                let ack = run.ack.filter(|_| std::mem::take(&mut first[s.run]));
                OwnWriteRequest {
                    write: &run.conversation.write,
                    own: &run.conversation.read,
                    ack,
                    acknowledge: self.listening.listens_to(&run.conversation.read.id),
                    plaintext: &s.wire,
                }
            })
            .collect();
        let written = client.write_own_many(&requests).await;
        drop(requests);
        let mut answers = written.done.into_iter();
        for s in &sealed {
            let conversation = &runs[s.run].conversation;
            let Some(answer) = answers.next() else {
                // Not sent: forget it was sealed (see `wrote`).
                self.store
                    .take_outbox(conversation.number, &digest(&s.wire))?;
                continue;
            };
            let outcome = self.wrote(conversation, &s.wire, answer);
            match outcome {
                Ok(()) => self.store.receipts_sent(conversation.number, &s.receipts)?,
                Err(error) if !failed[s.run] => {
                    failed[s.run] = true;
                    report(conversation.alias.clone(), error, events)?;
                }
                Err(_) => {}
            }
        }
        if let Some(error) = written.stopped {
            return Err(error.into());
        }
        let lone: Vec<usize> = (0..runs.len())
            .filter(|&i| first[i] && !failed[i] && runs[i].ack.is_some())
            .collect();
        if !lone.is_empty() {
            let acks: Vec<_> = lone
                .iter()
                .filter_map(|&i| Some((runs[i].conversation.read.clone(), runs[i].ack?)))
                .collect();
            let answers = client.ack_many(&acks).await?;
            for (&i, answer) in lone.iter().zip(answers) {
                if let Err(error) = answer {
                    failed[i] = true;
                    report(runs[i].conversation.alias.clone(), error.into(), events)?;
                }
            }
        }
        Ok(runs
            .iter()
            .zip(failed)
            .filter(|(_, failed)| !failed)
            .map(|(run, _)| run.conversation.number)
            .collect())
    }

    /// Seals what a run asks to send, in order: resends of crossed messages, then the receipts
    /// the conversation owes (for this run's texts and any a failure left owed before). If one
    /// does not seal, those sealed before it are forgotten.
    fn seal_run(&self, index: usize, run: &Run) -> Result<Vec<Sealed>, ConversationError> {
        let conversation = &run.conversation;
        let mut contents: Vec<(Vec<u8>, Vec<MessageId>)> = run
            .outcome
            .resend
            .iter()
            .map(|content| (content.clone(), Vec::new()))
            .collect();
        let owed = self.store.receipts_owed(conversation.number)?;
        for chunk in owed.chunks(MAX_RECEIPT_IDS) {
            let content = Content::Receipt {
                ids: chunk.to_vec(),
            }
            .encode()
            .map_err(encoding("a receipt"))?;
            contents.push((content, chunk.to_vec()));
        }
        let mut sealed = Vec::with_capacity(contents.len());
        for (content, receipts) in contents {
            match seal(&self.store, conversation, content, |_| Ok(())) {
                Ok(wire) => sealed.push(Sealed {
                    run: index,
                    wire,
                    receipts,
                }),
                Err(error) => {
                    for s in &sealed {
                        self.store
                            .take_outbox(conversation.number, &digest(&s.wire))?;
                    }
                    return Err(error);
                }
            }
        }
        Ok(sealed)
    }

    /// Takes in what became of writing a sealed message. If it was not written, it is
    /// forgotten, so it is neither shown as sent nor waited for (its MLS generation is spent,
    /// which costs nothing). If the host acknowledged it for this device's reader (a
    /// listening device's write, with nothing unread before it), the host does not push it
    /// back, and the device applies it here, where it knows its place in the order; otherwise
    /// it comes back like anyone's message.
    pub(super) fn wrote(
        &self,
        conversation: &Conversation,
        wire: &[u8],
        written: Result<OwnWrite, ClientError>,
    ) -> Result<(), ConversationError> {
        let written = match written {
            Ok(written) => written,
            Err(error) => {
                self.store.take_outbox(conversation.number, &digest(wire))?;
                return Err(error.into());
            }
        };
        if written.acknowledged {
            let current = self.store.conversation_by_number(conversation.number)?;
            let own = Message {
                seq: written.seq,
                written_at: 0,
                body: wire.to_vec(),
            };
            // Nothing came before it, so it stands in the epoch it was made for.
            let applied = apply(&self.store, &current, &own)?;
            if !matches!(applied, Applied::Confirmed | Applied::Commit) {
                tracing::warn!(?applied, "this device's own message applied unexpectedly");
            }
        }
        Ok(())
    }
}

/// Says that receipts came for this device's texts, if they did.
fn report_delivered(conversation: &Conversation, outcome: &Outcome, events: &mut Vec<Event>) {
    if outcome.delivered > 0 {
        events.push(Event::Delivered {
            alias: conversation.alias.clone(),
            count: outcome.delivered,
        });
    }
}
