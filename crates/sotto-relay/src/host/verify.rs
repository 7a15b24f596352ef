//! Signatures of a whole batch, checked together. Before anything runs, each request is
//! authorized once "on paper" to learn which key it must be signed by (the decoy key for an
//! unknown capability, so that case costs the same); all signatures are then verified in one
//! batch verification. When the requests run, a signature the batch proved for that same key is
//! accepted; any other key (because an earlier request of the batch changed the mailbox, or the
//! batch failed) is verified on its own. So the outcome is exactly that of one-by-one checks.
//!
//! A batch holding one bad signature costs its batch check plus single checks of all, about 1.5
//! times the one-by-one cost; unknown ids and bad signatures cannot be told apart by timing,
//! since both fail the batch alike.

use ed25519_dalek::VerifyingKey;
use sotto_proto::SignedRequest;

use super::commands::{authorize, Ctx};
use crate::store::StoreError;

/// How authorization checks a signature.
pub(crate) trait SignatureCheck {
    fn check(&mut self, signed: &SignedRequest, key: &VerifyingKey) -> bool;
}

/// Notes the key and pretends the signature is good.
struct KeyProbe(Option<VerifyingKey>);

impl SignatureCheck for KeyProbe {
    fn check(&mut self, _: &SignedRequest, key: &VerifyingKey) -> bool {
        self.0 = Some(*key);
        true
    }
}

/// Accepts the key the batch verification proved; verifies any other.
pub(crate) struct Prechecked(pub Option<VerifyingKey>);

impl SignatureCheck for Prechecked {
    fn check(&mut self, signed: &SignedRequest, key: &VerifyingKey) -> bool {
        self.0.as_ref() == Some(key) || signed.verify(key)
    }
}

/// For each request, the key its signature is proven for (`None` where nothing is proven).
/// `requests` holds the decoded requests that will run (`None` for the others).
pub(crate) fn precheck<R>(
    ctx: &mut Ctx<'_, R>,
    decoy_key: &VerifyingKey,
    requests: &[Option<&SignedRequest>],
) -> Result<Vec<Option<VerifyingKey>>, StoreError> {
    let mut keys = Vec::with_capacity(requests.len());
    for request in requests {
        let key = match request {
            Some(signed) => {
                let mut probe = KeyProbe(None);
                match authorize(ctx, signed, decoy_key, &mut probe) {
                    Ok(_) | Err(StoreError::Corrupt { .. }) => probe.0,
                    Err(other) => return Err(other),
                }
            }
            None => None,
        };
        keys.push(key);
    }
    let items: Vec<(&SignedRequest, &VerifyingKey)> = requests
        .iter()
        .zip(&keys)
        .filter_map(|(request, key)| Some(((*request)?, key.as_ref()?)))
        .collect();
    if items.is_empty() || !SignedRequest::verify_all(&items) {
        return Ok(vec![None; requests.len()]);
    }
    Ok(keys)
}
