//! Paying for mailboxes: on a network whose file names a voucher issuer, each new mailbox or
//! link spends one voucher from the device's wallet, and the wallet refills from the issuer
//! through the onion path when it runs low, so a person never sees it. A voucher is good at one
//! host, drawn by stake when it is issued as a new mailbox's host is drawn, so the mailbox it
//! pays for goes there. The issuer learns the device's voucher key and how many it took; the
//! hosts learn only that a voucher was good.

use sotto_onion::directory::VoucherIssuer;
use sotto_proto::voucher::Voucher;
use sotto_proto::{ErrorCode, Fingerprint};

use super::{Device, Network};
use crate::conversation::ConversationError;
use crate::wallet::{self, Entry};
use crate::ClientError;

impl<N: Network> Device<N> {
    /// Where the next new mailbox or link goes and the voucher that pays for it: on a network
    /// without vouchers, a host drawn now and no voucher.
    pub(super) async fn paid_host(
        &mut self,
    ) -> Result<(Fingerprint, Option<Voucher>), ConversationError> {
        let Some(issuer) = self.directory.issuer().cloned() else {
            return Ok((self.choose_host()?, None));
        };
        let mut usable = self.usable_vouchers(&issuer)?;
        let wanted = wallet::refill_count(usable.len());
        if wanted > 0 {
            match self.refill(&issuer, wanted).await {
                Ok(()) => usable = self.usable_vouchers(&issuer)?,
                // What the wallet holds still pays; the next creation tries again.
                Err(error) if !usable.is_empty() => {
                    let held = usable.len();
                    tracing::info!(%error, held, "voucher refill failed; spending what is held")
                }
                Err(error) => return Err(ConversationError::NoVouchers(error.to_string())),
            }
        }
        let entry = usable
            .into_iter()
            .next()
            .ok_or_else(|| ConversationError::NoVouchers("the wallet is empty".to_string()))?;
        self.store.remove_voucher(&entry)?;
        Ok((entry.host, Some(entry.voucher)))
    }

    /// The wallet's vouchers this device may spend now, oldest issuer key first (its vouchers
    /// stop being accepted first): of a key the network file lists, for a host still in it
    /// that a new mailbox may go to (not of the gateway's operator or subnet).
    fn usable_vouchers(&self, issuer: &VoucherIssuer) -> Result<Vec<Entry>, ConversationError> {
        let mut keys: Vec<(u32, [u8; 32])> = issuer
            .keys()
            .iter()
            .map(|key| (key.epoch(), wallet::key_digest(key)))
            .collect();
        keys.sort();
        let mut usable: Vec<(u32, Entry)> = self
            .store
            .vouchers()?
            .into_iter()
            .filter(|entry| {
                entry.host != self.gateway
                    && self.directory.relay(&entry.host).is_some()
                    && !self.directory.related(&entry.host, &self.gateway)
            })
            .filter_map(|entry| {
                let (epoch, _) = keys.iter().find(|(_, d)| *d == entry.key_digest)?;
                Some((*epoch, entry))
            })
            .collect();
        usable.sort_by_key(|(epoch, _)| *epoch);
        Ok(usable.into_iter().map(|(_, entry)| entry).collect())
    }

    /// Asks the issuer for up to `wanted` vouchers of its newest key, each for a host drawn
    /// now; when its allowance for today has less left, for fewer.
    async fn refill(
        &mut self,
        issuer: &VoucherIssuer,
        wanted: usize,
    ) -> Result<(), ConversationError> {
        let device = self.store.voucher_key()?;
        let key = issuer.newest();
        let hosts = (0..wanted)
            .map(|_| self.choose_host())
            .collect::<Result<Vec<_>, _>>()?;
        let client = self.host(*issuer.relay()).await?;
        let mut count = hosts.len();
        loop {
            match client.issue(&device, key, &hosts[..count]).await {
                Ok(vouchers) => {
                    let entries: Vec<Entry> = hosts
                        .iter()
                        .zip(vouchers)
                        .map(|(host, voucher)| Entry::new(key, *host, voucher))
                        .collect();
                    self.store.add_vouchers(&entries)?;
                    return Ok(());
                }
                Err(ClientError::Host(ErrorCode::Quota)) if count > 1 => count /= 2,
                Err(error) => return Err(error.into()),
            }
        }
    }
}
