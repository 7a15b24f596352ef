//! How a device reaches mailbox hosts. The device decides which relays it uses (its gateway,
//! second guard and hosts, from the directory); a [`Network`] only carries its requests there.
//! Production carries them on the onion path ([`OnionNetwork`]); tests can put a simulated
//! network here and run the device's real logic against real host rules, without processes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sotto_onion::directory::Directory;
use sotto_proto::Fingerprint;

use crate::onion::PacketCount;
use crate::{GatewayLink, OnionTransport, RelayHealth, Transport, TransportError};

/// How often pushes move to fresh paths (see `OnionTransport::connect`).
const RENEW_EVERY: Duration = Duration::from_secs(30);

/// Makes the transports a device reaches its mailbox hosts with.
pub trait Network: Send + Sync + 'static {
    type Transport: Transport;

    /// A transport to the mailboxes on `host`, entering the network at `entry` (both relays of
    /// `directory`; the device never asks for `entry == host`).
    fn connect(
        &mut self,
        directory: &Directory,
        entry: Fingerprint,
        host: Fingerprint,
    ) -> impl Future<Output = Result<Self::Transport, TransportError>> + Send;

    /// Drops what was connected so far: the device took a new network file, and what it
    /// connects from now on is made under that one.
    fn disconnect(&mut self) {}
}

/// The onion network: every request in a Sphinx packet through the entry relay and two mixes.
#[derive(Default)]
pub struct OnionNetwork {
    /// One connection per entry relay, shared by the transports to every host behind it.
    links: HashMap<Fingerprint, Arc<GatewayLink>>,
    /// What the transports to every host learn about relays, together.
    health: RelayHealth,
}

impl OnionNetwork {
    /// Sphinx packets sent into the network and received from it, over all its connections.
    pub(crate) fn packets(&self) -> PacketCount {
        self.links
            .values()
            .map(|link| link.packets())
            .fold(PacketCount::default(), |sum, count| sum + count)
    }
}

impl Network for OnionNetwork {
    type Transport = OnionTransport;

    async fn connect(
        &mut self,
        directory: &Directory,
        entry: Fingerprint,
        host: Fingerprint,
    ) -> Result<OnionTransport, TransportError> {
        let link = match self.links.get(&entry) {
            Some(link) => link.clone(),
            None => {
                let link = GatewayLink::connect(directory.clone(), entry).await?;
                self.links.insert(entry, link.clone());
                link
            }
        };
        OnionTransport::over(link, host, RENEW_EVERY, self.health.clone())
    }

    fn disconnect(&mut self) {
        self.links.clear();
    }
}
