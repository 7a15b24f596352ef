//! Vouchers at a host: on a network with an issuer, a mailbox or a link costs one voucher,
//! issued for this host and spent once. The spent set holds `epoch ‖ nonce` of every voucher accepted under a key the
//! network still lists; when a key leaves the network file its vouchers stop being accepted,
//! so the sweep forgets their entries and the set stays bounded by the listed epochs.
//!
//! The issuer role is here too: the relay that holds the network's issuer key signs blinded
//! vouchers for a device key, up to its allowance a day.

use sotto_proto::voucher::{IssuerKey, Voucher, VoucherKey, BLIND_LEN};
use sotto_proto::{ErrorCode, Fingerprint};

use crate::store::{StoreError, Table, Txn};

const DAY_SECS: u64 = 86_400;

/// What this relay asks of creations, and what it issues.
#[derive(Debug, Clone)]
pub struct VoucherPolicy {
    /// The issuer keys of the network; empty when the network needs no vouchers.
    pub accepted: Vec<VoucherKey>,
    /// This relay's fingerprint: a voucher is good only at the host it was issued for.
    pub own: Fingerprint,
    /// Set when this relay is the network's issuer.
    pub issuer: Option<Issuer>,
}

/// No vouchers asked, none issued.
impl Default for VoucherPolicy {
    fn default() -> Self {
        Self {
            accepted: Vec::new(),
            own: Fingerprint::from_bytes([0; 32]),
            issuer: None,
        }
    }
}

/// The issuer role: its secret keys (one per listed epoch it signs for) and how many vouchers
/// one device key may take a day.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub keys: Vec<IssuerKey>,
    pub per_device_per_day: u32,
}

impl VoucherPolicy {
    /// Checks a creation's voucher and records it spent, in the batch's transaction. `Some`
    /// is the error to answer; nothing is recorded then.
    pub(crate) fn spend(
        &self,
        txn: &mut dyn Txn,
        voucher: Option<&Voucher>,
    ) -> Result<Option<ErrorCode>, StoreError> {
        if self.accepted.is_empty() {
            return Ok(None);
        }
        let Some(voucher) = voucher else {
            return Ok(Some(ErrorCode::VoucherNeeded));
        };
        let signed = self
            .accepted
            .iter()
            .any(|key| key.epoch() == voucher.epoch && key.verifies(voucher, &self.own));
        if !signed {
            return Ok(Some(ErrorCode::VoucherInvalid));
        }
        let key = voucher.spent_key();
        if txn.get(Table::SpentVouchers, &key)?.is_some() {
            return Ok(Some(ErrorCode::VoucherSpent));
        }
        txn.put(Table::SpentVouchers, &key, &[])?;
        Ok(None)
    }

    /// Forgets spent vouchers of epochs before the oldest listed key, and allowances of days
    /// before today.
    pub(crate) fn sweep(&self, txn: &mut dyn Txn, now: u64) -> Result<(), StoreError> {
        if let Some(oldest) = self.accepted.iter().map(VoucherKey::epoch).min() {
            txn.remove_range(Table::SpentVouchers, &[0; 4], &oldest.to_be_bytes())?;
        }
        if self.issuer.is_some() {
            txn.remove_range(Table::Allowances, &[0; 8], &(now / DAY_SECS).to_be_bytes())?;
        }
        Ok(())
    }

    /// Signs blinded vouchers for `device_key` if this relay is the issuer, has a key for
    /// `epoch` and the device has allowance left today.
    pub(crate) fn issue(
        &self,
        txn: &mut dyn Txn,
        now: u64,
        device_key: &[u8; 32],
        epoch: u32,
        blinded: &[[u8; BLIND_LEN]],
    ) -> Result<Result<Vec<[u8; BLIND_LEN]>, ErrorCode>, StoreError> {
        let Some(issuer) = &self.issuer else {
            return Ok(Err(ErrorCode::Auth));
        };
        let Some(key) = issuer.keys.iter().find(|key| key.epoch() == epoch) else {
            return Ok(Err(ErrorCode::VoucherInvalid));
        };
        let mut entry = Vec::with_capacity(8 + 32);
        entry.extend_from_slice(&(now / DAY_SECS).to_be_bytes());
        entry.extend_from_slice(device_key);
        let taken = match txn.get(Table::Allowances, &entry)? {
            Some(bytes) => {
                u32::from_be_bytes(bytes.try_into().map_err(|_| StoreError::Corrupt {
                    what: "voucher allowance",
                    reason: "not 4 bytes".into(),
                })?)
            }
            None => 0,
        };
        let asked = u32::try_from(blinded.len()).unwrap_or(u32::MAX);
        if taken.saturating_add(asked) > issuer.per_device_per_day {
            return Ok(Err(ErrorCode::Quota));
        }
        let mut signatures = Vec::with_capacity(blinded.len());
        for message in blinded {
            match key.sign(message) {
                Ok(signature) => signatures.push(signature),
                // A blinded message outside the key's range: the client's fault, not the store's.
                Err(_) => return Ok(Err(ErrorCode::VoucherInvalid)),
            }
        }
        txn.put(Table::Allowances, &entry, &(taken + asked).to_be_bytes())?;
        Ok(Ok(signatures))
    }
}
