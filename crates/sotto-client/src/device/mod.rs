//! A device: the client database plus the network. It keeps one gateway for good and reaches
//! each mailbox host through it on the onion path, except the mailboxes the gateway hosts
//! itself: those it reaches through a second guard, kept for good as well.

mod auto_download;
mod cancel;
mod files;
mod groups;
mod link;
mod mls_objects;
mod network;
mod pushes;
mod send;
mod sync;
mod transfer;
mod vouchers;
mod welcome_files;
mod write_back;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sotto_onion::directory::{Authorities, Directory};
use sotto_proto::Fingerprint;

use crate::conversation::ConversationError;
use crate::home::{database_path, open_store, Unlock};
use crate::store::{Records, Store, StoreError};
use crate::MailboxClient;

pub use auto_download::AutoDownloaded;
pub use files::{FileToSend, Progress, DEFAULT_MAX_FILE_SIZE};
pub use groups::{GroupMember, GroupSummary};
pub use network::{Network, OnionNetwork};
pub use pushes::{Arrival, Arrivals, FollowUp};
pub use send::SELF_UPDATE_EVERY;
pub use transfer::{Finished, Transfer};

pub struct Device<N: Network = OnionNetwork> {
    store: Store,
    directory: Directory,
    /// The network's authorities, pinned (see `trust_authorities`).
    authorities: Authorities,
    gateway: Fingerprint,
    /// The entry for mailboxes the gateway hosts, once one was needed (see `entry_for`).
    second_gateway: Option<Fingerprint>,
    network: N,
    hosts: HashMap<Fingerprint, Arc<MailboxClient<N::Transport>>>,
    /// Subscriptions and the pushes they bring.
    listening: pushes::Listening,
}

/// One contact as `sotto contacts` lists it.
#[derive(Debug, Clone)]
pub struct Contact {
    pub alias: String,
    pub name: String,
    pub unread: u64,
    /// The conversation's disappearing timer, in seconds (0: messages stay).
    pub disappear_secs: u32,
}

/// The authorities whose network this device belongs to: those of the first network file it
/// read (or given to `pin_authority`), pinned from then on. Anyone can write a network file
/// listing relays of their choosing; only the authorities' signatures say it is this
/// network's. A later file is taken when enough of the pinned authorities signed it, and its
/// authorities are pinned in turn, so a network can change its authority keys without
/// losing its clients.
fn trust_authorities(
    store: &Store,
    pinned: Option<Authorities>,
    directory: &Directory,
) -> Result<Authorities, ConversationError> {
    let found = directory
        .authorities()
        .filter(|_| directory.is_approved())
        .ok_or(ConversationError::UnsignedNetwork)?;
    match pinned {
        Some(pinned) if !pinned.approve(&directory.signers()) => {
            Err(ConversationError::OtherAuthority {
                pinned: pinned.to_string(),
                found: directory
                    .signers()
                    .iter()
                    .map(|signer| hex::encode(signer.as_bytes()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        Some(pinned) if pinned == *found => Ok(pinned),
        _ => {
            store.set_authority(&found.to_bytes())?;
            Ok(found.clone())
        }
    }
}

/// Refuses a network file older than one the device took, and remembers the newest.
fn keep_newest(store: &Store, directory: &Directory) -> Result<(), ConversationError> {
    let (serial, seen) = (directory.serial(), store.network_serial()?);
    if serial < seen {
        return Err(ConversationError::OlderNetwork { serial, seen });
    }
    if serial > seen {
        store.set_network_serial(serial)?;
    }
    Ok(())
}

/// Pins `authorities` as the network authorities of the device in `home`, before it reads any
/// network file: for whoever got the keys from a source they trust more than the first file
/// (a network publishes its authorities' keys). Refused if others are pinned already.
pub fn pin_authority(
    home: &Path,
    unlock: &Unlock,
    authorities: &Authorities,
) -> Result<(), ConversationError> {
    let store = open_existing(home, unlock)?;
    let profile = store.profile()?.ok_or(ConversationError::NotInitialized)?;
    match profile.authority.as_deref().map(Authorities::from_bytes) {
        None => Ok(store.set_authority(&authorities.to_bytes())?),
        Some(Some(pinned)) if pinned == *authorities => Ok(()),
        Some(pinned) => Err(ConversationError::OtherAuthority {
            pinned: pinned.map_or_else(|| "(unreadable)".into(), |p| p.to_string()),
            found: authorities.to_string(),
        }),
    }
}

/// The gateway a device keeps for weeks (a guard): the one it had, if still in the network,
/// else a new one, remembered.
fn keep_gateway(
    store: &Store,
    had: Option<Fingerprint>,
    directory: &Directory,
) -> Result<Fingerprint, ConversationError> {
    if let Some(gateway) = had.filter(|g| directory.relay(g).is_some()) {
        return Ok(gateway);
    }
    let gateway = *directory
        .choose_gateway(&mut rand::rngs::OsRng)
        .map_err(|e| ConversationError::Directory(e.to_string()))?
        .fingerprint();
    store.set_gateway(&gateway)?;
    Ok(gateway)
}

/// The store of the device in `home`, which must have been set up with `init`.
fn open_existing(home: &Path, unlock: &Unlock) -> Result<Store, ConversationError> {
    if !database_path(home).exists() {
        return Err(ConversationError::NotInitialized);
    }
    Ok(open_store(home, unlock)?)
}

/// Creates the home directory and the profile, the store locked as `unlock` says. A display
/// name is all there is: no account id, phone number or e-mail.
pub fn init(home: &Path, name: &str, unlock: &Unlock) -> Result<(), ConversationError> {
    let name = name.trim();
    if name.is_empty() || name.len() > sotto_proto::conversation::MAX_NAME_LEN {
        return Err(ConversationError::BadName);
    }
    let store = open_store(home, unlock)?;
    if let Some(profile) = store.profile()? {
        return Err(ConversationError::AlreadyInitialized(profile.name));
    }
    store.create_profile(name)?;
    Ok(())
}

impl Device {
    /// Opens the device in `home` on the onion network in `directory`. The first open picks
    /// the gateway this device keeps.
    pub fn open(
        home: &Path,
        unlock: &Unlock,
        directory: Directory,
    ) -> Result<Self, ConversationError> {
        Self::open_on(home, unlock, directory, OnionNetwork::default())
    }
}

impl<N: Network> Device<N> {
    /// Opens the device in `home`, reaching the relays of `directory` through `network`.
    pub fn open_on(
        home: &Path,
        unlock: &Unlock,
        directory: Directory,
        network: N,
    ) -> Result<Self, ConversationError> {
        let store = open_existing(home, unlock)?;
        let profile = store.profile()?.ok_or(ConversationError::NotInitialized)?;
        let pinned = profile
            .authority
            .as_deref()
            .map(|bytes| Authorities::from_bytes(bytes).ok_or(StoreError::Damaged("authority")))
            .transpose()?;
        let authorities = trust_authorities(&store, pinned, &directory)?;
        keep_newest(&store, &directory)?;
        let gateway = keep_gateway(&store, profile.gateway, &directory)?;
        Ok(Self {
            store,
            directory,
            authorities,
            gateway,
            second_gateway: profile.second_gateway,
            network,
            hosts: HashMap::new(),
            listening: pushes::Listening::new(),
        })
    }

    /// Takes a newer network file: onion keys rotate every epoch, and a device that runs for
    /// days must follow them. Connections made under the old file are dropped and made again
    /// when next used; the gateway stays unless it left the network. Returns whether anything
    /// changed.
    pub fn set_directory(&mut self, directory: Directory) -> Result<bool, ConversationError> {
        if directory == self.directory {
            return Ok(false);
        }
        self.authorities =
            trust_authorities(&self.store, Some(self.authorities.clone()), &directory)?;
        keep_newest(&self.store, &directory)?;
        self.gateway = keep_gateway(&self.store, Some(self.gateway), &directory)?;
        self.directory = directory;
        self.hosts.clear();
        self.network.disconnect();
        self.listening.reset();
        Ok(true)
    }

    /// What front ends read: the name, contacts and messages, no keys (`Store` has them).
    pub fn records(&self) -> Records<'_> {
        Records::of(&self.store)
    }

    /// The whole store, keys and MLS state included: for tests and benchmarks that look
    /// inside a device. Front ends use [`records`](Self::records).
    #[doc(hidden)]
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn name(&self) -> Result<String, ConversationError> {
        Ok(self
            .store
            .profile()?
            .ok_or(ConversationError::NotInitialized)?
            .name)
    }

    /// The relay this device enters the network at.
    pub fn gateway(&self) -> Fingerprint {
        self.gateway
    }
}

/// What only the onion network can tell.
impl Device {
    /// Whether every connection that carries this device's subscriptions still stands. A
    /// connection nothing is subscribed through (the host of a link already answered, say)
    /// is made again when next used, and says nothing about whether pushes can arrive.
    pub fn connected(&self) -> bool {
        self.hosts
            .values()
            .filter(|client| client.is_subscribed())
            .all(|client| client.transport().connected())
    }

    /// This device's connections into the network: for each host it reaches, the address its
    /// entry relay sees it at (hosts entered at one relay share one connection, so one
    /// address).
    pub fn connections(&self) -> Vec<(Fingerprint, std::net::SocketAddr)> {
        self.hosts
            .iter()
            .filter_map(|(host, client)| Some((*host, client.transport().local_addr()?)))
            .collect()
    }

    /// Sphinx packets this device sent into the network and received from it, over all its
    /// connections since it opened (what its gateway links carry, counted by packet).
    pub fn packets(&self) -> crate::onion::PacketCount {
        self.network.packets()
    }

    /// The relays this device's last request and last push in the conversation with `alias`
    /// passed (`None` if this process has not used its host yet).
    pub fn trace(&self, alias: &str) -> Result<Option<crate::Trace>, ConversationError> {
        let conversation = self
            .store
            .conversation(alias)?
            .ok_or_else(|| ConversationError::UnknownContact(alias.to_string()))?;
        Ok(self
            .hosts
            .get(&conversation.host)
            .map(|client| client.transport().trace()))
    }
}

impl<N: Network> Device<N> {
    pub fn contacts(&self) -> Result<Vec<Contact>, ConversationError> {
        self.store
            .conversations()?
            .into_iter()
            .filter(|c| !c.group)
            .map(|c| {
                Ok(Contact {
                    unread: self.store.unread_count(c.number)?,
                    alias: c.alias,
                    name: c.peer_name,
                    disappear_secs: c.disappear_secs,
                })
            })
            .collect()
    }

    /// The mailbox client for `host`, connected on first use.
    async fn host(
        &mut self,
        host: Fingerprint,
    ) -> Result<Arc<MailboxClient<N::Transport>>, ConversationError> {
        // Whatever the network is asked next may act on what this device committed (see
        // `Store::make_durable`): make it survive power loss first.
        self.store.make_durable()?;
        if let Some(client) = self.hosts.get(&host) {
            return Ok(client.clone());
        }
        if self.directory.relay(&host).is_none() {
            return Err(ConversationError::Directory(format!(
                "relay {host} is not in this network file"
            )));
        }
        let entry = self.entry_for(&host)?;
        let transport = self
            .network
            .connect(&self.directory, entry, host)
            .await
            .map_err(crate::ClientError::from)?;
        let client = Arc::new(MailboxClient::new(transport));
        self.hosts.insert(host, client.clone());
        Ok(client)
    }

    /// Where this device enters the network to reach `host`: its gateway, except where the
    /// gateway and the host are one relay, one operator's or on one subnet (a host someone
    /// else chose), which together would see both the device and the mailbox. Then it enters
    /// at the second guard, drawn once apart from the gateway and that host and kept until it
    /// leaves the network or falls in with a host the same way: a new draw on every run would
    /// show the device's address to ever more relays.
    fn entry_for(&mut self, host: &Fingerprint) -> Result<Fingerprint, ConversationError> {
        let directory = &self.directory;
        if !directory.related(&self.gateway, host) {
            return Ok(self.gateway);
        }
        let kept = self.second_gateway.filter(|second| {
            directory.relay(second).is_some()
                && !directory.related(second, &self.gateway)
                && !directory.related(second, host)
        });
        if let Some(second) = kept {
            return Ok(second);
        }
        let second = *directory
            .choose_apart(&[self.gateway, *host], &mut rand::rngs::OsRng)
            .map_err(|e| ConversationError::Directory(e.to_string()))?
            .fingerprint();
        self.store.set_second_gateway(&second)?;
        self.second_gateway = Some(second);
        Ok(second)
    }

    /// A host for a new mailbox, drawn by stake, never of the gateway's operator or subnet
    /// (one operator holding both would see both ends).
    fn choose_host(&self) -> Result<Fingerprint, ConversationError> {
        self.directory
            .choose_host(&self.gateway, &mut rand::rngs::OsRng)
            .map(|relay| *relay.fingerprint())
            .map_err(|e| ConversationError::Directory(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::test_network::network;

    /// The network signed by `keys`, its authorities being `keys` with `threshold`.
    fn signed(keys: &[&SigningKey], threshold: usize) -> Directory {
        let authorities =
            Authorities::new(keys.iter().map(|k| k.verifying_key()).collect(), threshold).unwrap();
        keys.iter()
            .fold(network(4).with_authorities(authorities), |d, key| {
                d.sign(key).unwrap()
            })
    }

    #[test]
    fn a_device_keeps_to_the_authority_of_its_first_network_file() {
        let home = std::env::temp_dir().join(format!("sotto-pin-{:016x}", rand::random::<u64>()));
        init(&home, "Alice", &Unlock::KeyFile).unwrap();
        let ours = SigningKey::from_bytes(&[1; 32]);
        let theirs = SigningKey::from_bytes(&[2; 32]);

        assert!(matches!(
            Device::open(&home, &Unlock::KeyFile, network(4)),
            Err(ConversationError::UnsignedNetwork)
        ));
        let mut device = Device::open(&home, &Unlock::KeyFile, signed(&[&ours], 1)).unwrap();
        drop(device);
        // Pinned: the same authority again is fine, another is refused, now and on a reload.
        device = Device::open(&home, &Unlock::KeyFile, signed(&[&ours], 1)).unwrap();
        let error = device.set_directory(signed(&[&theirs], 1)).unwrap_err();
        assert!(matches!(error, ConversationError::OtherAuthority { .. }));
        drop(device);
        let error = Device::open(&home, &Unlock::KeyFile, signed(&[&theirs], 1))
            .err()
            .unwrap();
        let message = error.to_string();
        assert!(
            message.contains(&hex::encode(theirs.verifying_key().as_bytes()))
                && message.contains(&hex::encode(ours.verifying_key().as_bytes())),
            "{message}"
        );
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn the_entry_to_mailboxes_on_the_gateway_is_kept_until_it_leaves_the_network() {
        let home = std::env::temp_dir().join(format!("sotto-2nd-{:016x}", rand::random::<u64>()));
        init(&home, "Alice", &Unlock::KeyFile).unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let authorities = Authorities::single(key.verifying_key());
        let signed = |directory: Directory| {
            directory
                .with_authorities(authorities.clone())
                .sign(&key)
                .unwrap()
        };
        let mut device = Device::open(&home, &Unlock::KeyFile, signed(network(12))).unwrap();
        let gateway = device.gateway();
        let other = network(12)
            .relays()
            .iter()
            .map(|relay| *relay.fingerprint())
            .find(|relay| *relay != gateway)
            .unwrap();
        assert_eq!(device.entry_for(&other).unwrap(), gateway);

        let second = device.entry_for(&gateway).unwrap();
        assert!(second != gateway && !device.directory.related(&second, &gateway));
        for _ in 0..20 {
            assert_eq!(device.entry_for(&gateway).unwrap(), second);
        }
        drop(device);
        let mut device = Device::open(&home, &Unlock::KeyFile, signed(network(12))).unwrap();
        assert_eq!(
            device.entry_for(&gateway).unwrap(),
            second,
            "kept across runs"
        );

        let without = network(12)
            .relays()
            .iter()
            .filter(|relay| *relay.fingerprint() != second)
            .cloned()
            .collect();
        let without = signed(Directory::new(86_400, without).unwrap());
        device.set_directory(without).unwrap();
        let replaced = device.entry_for(&gateway).unwrap();
        assert!(replaced != second && replaced != gateway);
        assert_eq!(device.entry_for(&gateway).unwrap(), replaced);
        std::fs::remove_dir_all(&home).unwrap();
    }

    /// Someone else chose the host of a conversation; when its operator (or subnet) is the
    /// gateway's, the device enters elsewhere, apart from both.
    #[test]
    fn a_host_of_the_gateways_operator_is_entered_at_a_relay_apart_from_both() {
        let home = std::env::temp_dir().join(format!("sotto-op-{:016x}", rand::random::<u64>()));
        init(&home, "Alice", &Unlock::KeyFile).unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let signed = |directory: Directory| {
            directory
                .with_authorities(Authorities::single(key.verifying_key()))
                .sign(&key)
                .unwrap()
        };
        let mut device = Device::open(&home, &Unlock::KeyFile, signed(network(12))).unwrap();
        let gateway = device.gateway();
        let mut relays = network(12).relays().to_vec();
        let operator = relays
            .iter()
            .find(|relay| *relay.fingerprint() == gateway)
            .unwrap()
            .stake
            .operator
            .clone();
        let sibling = relays
            .iter_mut()
            .find(|relay| *relay.fingerprint() != gateway)
            .unwrap();
        sibling.stake.operator = operator;
        let sibling = *sibling.fingerprint();
        device
            .set_directory(signed(Directory::new(86_400, relays).unwrap()))
            .unwrap();
        for _ in 0..20 {
            let entry = device.entry_for(&sibling).unwrap();
            assert!(
                !device.directory.related(&entry, &gateway)
                    && !device.directory.related(&entry, &sibling),
                "entered at {entry}"
            );
        }
        std::fs::remove_dir_all(&home).unwrap();
    }

    /// An old network file, signed as it was, cannot be played back to a device that took a
    /// newer one: not while it runs, nor when it opens again.
    #[test]
    fn an_older_network_file_is_refused() {
        let home = std::env::temp_dir().join(format!("sotto-ser-{:016x}", rand::random::<u64>()));
        init(&home, "Alice", &Unlock::KeyFile).unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let issue = |serial: u64, relays: u8| {
            network(relays)
                .with_authorities(Authorities::single(key.verifying_key()))
                .with_serial(serial)
                .sign(&key)
                .unwrap()
        };
        let mut device = Device::open(&home, &Unlock::KeyFile, issue(5, 6)).unwrap();
        assert!(device.set_directory(issue(7, 5)).unwrap());
        let error = device.set_directory(issue(6, 6)).unwrap_err();
        assert!(
            matches!(
                error,
                ConversationError::OlderNetwork { serial: 6, seen: 7 }
            ),
            "{error}"
        );
        drop(device);
        assert!(matches!(
            Device::open(&home, &Unlock::KeyFile, issue(5, 6)),
            Err(ConversationError::OlderNetwork { serial: 5, seen: 7 })
        ));
        assert!(Device::open(&home, &Unlock::KeyFile, issue(7, 5)).is_ok());
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn a_network_can_hand_over_to_new_authorities_its_old_ones_sign_for() {
        let home = std::env::temp_dir().join(format!("sotto-hand-{:016x}", rand::random::<u64>()));
        init(&home, "Alice", &Unlock::KeyFile).unwrap();
        let [old, new, stranger] = [1u8, 2, 3].map(|n| SigningKey::from_bytes(&[n; 32]));
        let mut device = Device::open(&home, &Unlock::KeyFile, signed(&[&old], 1)).unwrap();
        // The old authority signs a file naming both: taken, and both are pinned.
        assert!(device.set_directory(signed(&[&old, &new], 1)).unwrap());
        // From then on the new one alone is enough, and the old key can go.
        let only_new = Authorities::single(new.verifying_key());
        let handed = network(4).with_authorities(only_new).sign(&new).unwrap();
        assert!(device.set_directory(handed).unwrap());
        assert!(device.set_directory(signed(&[&stranger], 1)).is_err());
        drop(device);
        // Two of three: one signature is not a network file a device takes.
        let home2 = home.with_extension("b");
        init(&home2, "Bob", &Unlock::KeyFile).unwrap();
        let three = [&old, &new, &stranger];
        let two_of_three =
            Authorities::new(three.iter().map(|k| k.verifying_key()).collect(), 2).unwrap();
        let one = network(4)
            .with_authorities(two_of_three)
            .sign(&old)
            .unwrap();
        assert!(matches!(
            Device::open(&home2, &Unlock::KeyFile, one),
            Err(ConversationError::UnsignedNetwork)
        ));
        assert!(Device::open(&home2, &Unlock::KeyFile, signed(&three, 2)).is_ok());
        std::fs::remove_dir_all(&home).unwrap();
        std::fs::remove_dir_all(&home2).unwrap();
    }
}
