//! The onion transport: every request travels `client -> gateway -> mix -> mix -> host` inside
//! one Sphinx packet, with reply blocks for the answer and for pushes; answers and pushes come
//! back `host -> mix -> mix -> gateway -> client`. The gateway knows the client but not the
//! host; the host knows the mailbox but not the client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use sotto_onion::directory::{Directory, Path};
use sotto_onion::packet::{new_reply_block, ReplyBlock, ReplyId, ReplyKey, RequestHeader};
use sotto_onion::request::OnionRequest;
use sotto_proto::Fingerprint;
use sotto_quic::onion::injection;
use sotto_quic::unix_now;
use tokio::sync::{mpsc, Mutex, Notify};

use crate::health::RelayHealth;
use crate::push_blocks::Deposit;
use crate::rto::Rto;
use crate::transport::busy_wait;
use inbound::Inbound;
use replies::RequestNumber;
use retries::{choose_path, Next, Retries, MIXES};
use spares::{make_spares, take_spare, Spare, Spares};

mod count;
mod inbound;
mod link;
mod replies;
mod retries;
mod spares;
use crate::transport::{Transport, TransportError};
pub use count::PacketCount;
pub use link::GatewayLink;

/// The relays the last request and the last push passed, in order (entry relay first), for
/// showing a person what happened (`sotto demo`). Known only to this client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub request: Vec<Fingerprint>,
    pub push: Vec<Fingerprint>,
}

/// The way to the mailboxes of one host, entering the network through a [`GatewayLink`] that
/// other transports (to other hosts) may share.
pub struct OnionTransport {
    ends: Ends,
    link: Arc<GatewayLink>,
    /// Answers and pushes the link hands this transport.
    inbound: Arc<Inbound>,
    pushes: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    retry_for: Duration,
    /// When to send a request again, learnt from the answers.
    rto: SyncMutex<Rto>,
    /// Until when the host said it is busy: no attempt is sent again for want of an answer
    /// before then, since its answer is queued, not lost.
    busy_until: SyncMutex<Option<Instant>>,
    /// Headers and reply blocks made ahead of time, while the client waits for answers.
    spares: Arc<SyncMutex<Spares>>,
    refill: Arc<Notify>,
}

/// Where a transport's paths run and whom its replies find.
#[derive(Clone)]
struct Ends {
    directory: Directory,
    gateway: Fingerprint,
    host: Fingerprint,
    /// Where replies find this client at its gateway (its link's).
    address: [u8; 32],
}

impl Ends {
    /// Whether paths between the gateway and the host can avoid every mix in `suspects`: when
    /// too few relays are left unsuspected, every path passes one, and a spare made ahead is as
    /// good as a new path.
    fn can_avoid(&self, suspects: &[Fingerprint]) -> bool {
        let unsuspected = self
            .directory
            .relays()
            .iter()
            .map(|relay| relay.fingerprint())
            .filter(|relay| ![self.gateway, self.host].contains(relay) && !suspects.contains(relay))
            .count();
        unsuspected >= MIXES
    }
}

fn onion_error(error: impl std::fmt::Display) -> TransportError {
    TransportError::Protocol(error.to_string())
}

fn refuse_gateway_as_host(gateway: Fingerprint, host: Fingerprint) -> Result<(), TransportError> {
    if gateway == host {
        return Err(TransportError::Connect(
            "the gateway must not be the mailbox host: it would learn both ends".into(),
        ));
    }
    Ok(())
}

impl OnionTransport {
    /// Connects to `gateway` to reach mailboxes on `host` through the network in `directory`,
    /// on a link of its own. Every `renew_every`, the transport asks its user to renew
    /// subscriptions (its epoch moves on), so pushes travel fresh paths and a broken relay on
    /// an old one costs nothing.
    pub async fn connect(
        directory: Directory,
        gateway: Fingerprint,
        host: Fingerprint,
        renew_every: Duration,
    ) -> Result<Self, TransportError> {
        refuse_gateway_as_host(gateway, host)?;
        let link = GatewayLink::connect(directory, gateway).await?;
        Self::over(link, host, renew_every, RelayHealth::default())
    }

    /// `connect` through `link`, which other transports may share, learning about relays
    /// together with the other transports given `health`.
    pub fn over(
        link: Arc<GatewayLink>,
        host: Fingerprint,
        renew_every: Duration,
        health: RelayHealth,
    ) -> Result<Self, TransportError> {
        refuse_gateway_as_host(link.gateway(), host)?;
        let (pushes_in, pushes) = mpsc::unbounded_channel();
        let inbound = Arc::new(Inbound::new(health, pushes_in));
        link.attach(&inbound);
        let transport = Self {
            ends: Ends {
                directory: link.directory().clone(),
                gateway: link.gateway(),
                host,
                address: link.address(),
            },
            link,
            inbound,
            pushes: Mutex::new(pushes),
            retry_for: crate::DEFAULT_RETRY_FOR,
            rto: SyncMutex::new(Rto::default()),
            busy_until: SyncMutex::new(None),
            spares: Arc::default(),
            refill: Arc::new(Notify::new()),
        };
        tokio::spawn(make_spares(
            transport.ends.clone(),
            Arc::downgrade(&transport.spares),
            transport.refill.clone(),
        ));
        transport.refill.notify_one();
        let inbound = Arc::downgrade(&transport.inbound);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(renew_every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inbound) = inbound.upgrade() else {
                    break;
                };
                inbound.renew();
            }
        });
        Ok(transport)
    }

    /// Whether the connection to the gateway stands (see [`GatewayLink::connected`]).
    pub fn connected(&self) -> bool {
        self.link.connected()
    }

    /// Which relays the last request and push passed.
    pub fn trace(&self) -> Trace {
        self.inbound.trace().clone()
    }

    /// Sphinx packets sent to and received from the gateway so far, by every transport on
    /// this one's link.
    pub fn packets(&self) -> PacketCount {
        self.link.packets()
    }

    /// The local UDP address this client sends from, shared by the transports on its link.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.link.local_addr()
    }

    /// The mixes to avoid: those suspected lately, unless too few relays are left without them.
    fn avoidable_suspects(&self) -> Vec<Fingerprint> {
        let suspects = self.inbound.health.suspects();
        if self.ends.can_avoid(&suspects) {
            suspects
        } else {
            Vec::new()
        }
    }

    /// A random path, avoiding relays that were on unanswered paths lately when it can.
    fn path(
        &self,
        epoch: u64,
        from: &Fingerprint,
        to: &Fingerprint,
    ) -> Result<Path, TransportError> {
        let suspects = self.avoidable_suspects();
        choose_path(
            &self.ends.directory,
            epoch,
            (from, to),
            &suspects,
            &mut rand::thread_rng(),
        )
    }

    /// Takes a spare made ahead of time, if a fitting one is ready, and asks for another.
    fn spare<T>(
        &self,
        epoch: u64,
        kind: fn(&mut Spares) -> &mut Vec<Spare<T>>,
    ) -> Option<(Path, T)> {
        let suspects = self.avoidable_suspects();
        let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
        let taken = take_spare(kind(&mut spares), epoch, &suspects);
        self.refill.notify_one();
        taken
    }

    /// A request header to the host for this epoch, made ahead of time if one is ready.
    fn request_header(&self, epoch: u64) -> Result<(Path, RequestHeader), TransportError> {
        if let Some(spare) = self.spare(epoch, |spares| &mut spares.headers) {
            return Ok(spare);
        }
        let path = self.path(epoch, &self.ends.gateway, &self.ends.host)?;
        let header =
            RequestHeader::new(&path.route(), *self.ends.host.as_bytes()).map_err(onion_error)?;
        Ok((path, header))
    }

    /// A reply block for this epoch, made ahead of time if one is ready.
    fn reply_block(&self, epoch: u64) -> Result<(Path, ReplyBlock, ReplyKey), TransportError> {
        if let Some((path, (block, key))) = self.spare(epoch, |spares| &mut spares.blocks) {
            return Ok((path, block, key));
        }
        let path = self.path(epoch, &self.ends.host, &self.ends.gateway)?;
        let (block, key) =
            new_reply_block(&path.route(), self.ends.address).map_err(onion_error)?;
        Ok((path, block, key))
    }

    fn rto(&self) -> std::sync::MutexGuard<'_, Rto> {
        self.rto.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `frame` once on fresh paths; its answer goes to request `request`.
    async fn attempt(
        &self,
        frame: &[u8],
        deposit: Option<&Deposit>,
        request: RequestNumber,
    ) -> Result<(ReplyId, [Path; 2]), TransportError> {
        let epoch = self.ends.directory.current_epoch(unix_now());
        let (path, header) = self.request_header(epoch)?;
        let push_blocks = deposit.map_or(0, |deposit| deposit.count);
        let mut blocks = Vec::with_capacity(1 + push_blocks);
        let (back, block, key) = self.reply_block(epoch)?;
        blocks.push(block);
        let mut push_keys = Vec::with_capacity(push_blocks);
        for _ in 0..push_blocks {
            let (back, block, key) = self.reply_block(epoch)?;
            blocks.push(block);
            push_keys.push((key, back.relays()));
        }
        let payload = OnionRequest {
            reply_blocks: blocks,
            frame: frame.to_vec(),
        }
        .encode()
        .map_err(onion_error)?;
        let packet = header.seal(&payload).map_err(onion_error)?;
        let id = key.id();
        {
            let mut replies = self.inbound.replies();
            let relays = path.relays().into_iter().chain(back.relays()).collect();
            replies.expect_answer(key, request, relays);
            if let Some(reader) = deposit.and_then(Deposit::reader) {
                for (key, route) in push_keys {
                    replies.expect_push(key, route, reader);
                }
            }
        }
        self.inbound.trace().request = path.relays();
        let injection = injection(path.first_hop().fingerprint().as_bytes(), &packet.to_wire());
        if let Err(error) = self.link.inject(&injection).await {
            self.inbound.replies().forget(&id);
            return Err(error);
        }
        Ok((id, [path, back]))
    }
}

impl Transport for OnionTransport {
    /// Sends the request and, while no answer comes within the learnt timeout, sends it
    /// again on fresh paths (the host answers a repeat with its first answer, so nothing runs
    /// twice). An answer to any attempt will do. The rules are `Retries`'; this only does
    /// what it says.
    async fn round_trip(&self, frame: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let deposit = self.inbound.replies().push_blocks.plan(&frame);
        let (request, mut answered) = self.inbound.request();
        let mut retries = Retries::new(Instant::now(), self.retry_for);
        let outcome = loop {
            if let Some(until) = *self.busy_until.lock().unwrap_or_else(|e| e.into_inner()) {
                retries.hold(until);
            }
            let next = retries.next(Instant::now(), &mut self.inbound.health.lock());
            match next {
                Next::Send => match self.attempt(&frame, deposit.as_ref(), request).await {
                    Ok((id, paths)) => retries.sent(id, &paths, Instant::now(), &self.rto()),
                    Err(error) => retries.not_sent(error, Instant::now()),
                },
                Next::Wait(until) => {
                    let until = tokio::time::Instant::from_std(until);
                    match tokio::time::timeout_at(until, answered.recv()).await {
                        Ok(Some((answer, id))) => {
                            let now = Instant::now();
                            // A BUSY answer comes at once and says how long the host's queue
                            // is: nothing ran, so the very frame goes again after that wait,
                            // and no request to this host is sent again for want of an
                            // answer before then (its answer is queued, not lost).
                            if let Some(wait) = busy_wait(&answer) {
                                if retries.busy(&id, now + wait) {
                                    let mut busy =
                                        self.busy_until.lock().unwrap_or_else(|e| e.into_inner());
                                    *busy = Some(
                                        busy.map_or(now + wait, |known| known.max(now + wait)),
                                    );
                                }
                                continue;
                            }
                            if let Some(sample) = retries.answered(&id, now) {
                                self.rto().answered(sample);
                                if let Some(deposit) = &deposit {
                                    self.inbound.replies().push_blocks.deposited(deposit);
                                }
                                break Ok(answer);
                            }
                        }
                        Ok(None) => break Err(TransportError::Closed),
                        Err(_) => {}
                    }
                }
                Next::GiveUp(error) => break Err(error),
            }
        };
        let attempts: Vec<ReplyId> = retries.ids().copied().collect();
        self.inbound.request_over(request, &attempts);
        outcome
    }

    async fn next_push(&self) -> Option<Vec<u8>> {
        self.pushes.lock().await.recv().await
    }

    fn epoch(&self) -> u64 {
        self.inbound.epoch()
    }
}

impl Drop for OnionTransport {
    fn drop(&mut self) {
        // Wakes the spare-maker, which then finds the transport gone and ends.
        self.refill.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_network::network;

    #[test]
    fn suspects_are_avoided_only_while_enough_relays_are_left() {
        let relay = |n: u8| Fingerprint::from_bytes([n; 32]);
        let ends = Ends {
            directory: network(5),
            gateway: relay(1),
            host: relay(5),
            address: [0; 32],
        };
        assert!(ends.can_avoid(&[]));
        assert!(ends.can_avoid(&[relay(2)]), "relays 3 and 4 are left");
        assert!(
            !ends.can_avoid(&[relay(2), relay(3)]),
            "one mix is not a path"
        );
        assert!(
            ends.can_avoid(&[relay(1), relay(5)]),
            "the ends are never mixes anyway"
        );
    }
}
