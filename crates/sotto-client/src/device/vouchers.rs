//! Paying for mailboxes: on a network whose file names a voucher issuer, each creation spends
//! one voucher from the device's wallet, and the wallet refills from the issuer through the
//! onion path when it runs low, so a person never sees it. The issuer learns the device's
//! voucher key and how many it took; the hosts learn only that a voucher was good.

use sotto_onion::directory::VoucherIssuer;
use sotto_proto::voucher::{Voucher, VoucherKey};
use sotto_proto::ErrorCode;

use super::{Device, Network};
use crate::conversation::ConversationError;
use crate::wallet::{self, Entry};
use crate::ClientError;

impl<N: Network> Device<N> {
    /// A voucher for the next creation, or `None` on a network that needs none.
    pub(super) async fn voucher(&mut self) -> Result<Option<Voucher>, ConversationError> {
        let Some(issuer) = self.directory.issuer().cloned() else {
            return Ok(None);
        };
        // Oldest key first: its vouchers stop being accepted first.
        let mut keys: Vec<&VoucherKey> = issuer.keys().iter().collect();
        keys.sort_by_key(|key| key.epoch());
        let digests: Vec<[u8; 32]> = keys.iter().map(|key| wallet::key_digest(key)).collect();
        let mut held = 0;
        for digest in &digests {
            held += self.store.voucher_count(digest)?;
        }
        let wanted = wallet::refill_count(held);
        if wanted > 0 {
            match self.refill(&issuer, wanted).await {
                Ok(()) => {}
                // What the wallet holds still pays; the next creation tries again.
                Err(error) if held > 0 => {
                    tracing::info!(%error, held, "voucher refill failed; spending what is held")
                }
                Err(error) => return Err(ConversationError::NoVouchers(error.to_string())),
            }
        }
        for digest in &digests {
            if let Some(entry) = self.store.take_voucher(digest)? {
                return Ok(Some(entry.voucher));
            }
        }
        Err(ConversationError::NoVouchers(
            "the wallet is empty".to_string(),
        ))
    }

    /// Asks the issuer for up to `wanted` vouchers of its newest key; when its allowance for
    /// today has less left, for fewer.
    async fn refill(
        &mut self,
        issuer: &VoucherIssuer,
        wanted: usize,
    ) -> Result<(), ConversationError> {
        let device = self.store.voucher_key()?;
        let key = issuer.newest();
        let client = self.host(*issuer.relay()).await?;
        let mut count = wanted;
        loop {
            match client.issue(&device, key, count).await {
                Ok(vouchers) => {
                    let entries: Vec<Entry> =
                        vouchers.into_iter().map(|v| Entry::new(key, v)).collect();
                    self.store.add_vouchers(&entries)?;
                    return Ok(());
                }
                Err(ClientError::Host(ErrorCode::Quota)) if count > 1 => count /= 2,
                Err(error) => return Err(error.into()),
            }
        }
    }
}
