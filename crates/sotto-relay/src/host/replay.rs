//! Remembered answers: a mutating request's first answer is kept for the replay window, so a
//! client that lost the answer and sends the same frame again gets that answer and nothing runs
//! twice. The entry is found before authorization, because the first run may have destroyed the
//! capability (a delete, say); it opens only with the key that signed the first request.

use sotto_proto::{Command, Id, Request, Response, SignedRequest};

use crate::store::{StoreError, Table, Txn};

const KEY_LEN: usize = 32;

/// Time first, so expired entries go with one range delete; the capability (or the key a new
/// object introduces) next, so nonces of different clients never collide.
fn entry_key(request: &Request) -> Vec<u8> {
    let mut principal = [0u8; KEY_LEN];
    match &request.command {
        Command::Create {
            reader_key: key, ..
        }
        | Command::PutLink { owner_key: key, .. }
        | Command::Issue {
            device_key: key, ..
        } => principal = key.to_bytes(),
        _ => principal[..Id::LEN].copy_from_slice(request.target.as_bytes()),
    }
    let mut key = Vec::with_capacity(8 + KEY_LEN + 16);
    key.extend_from_slice(&request.timestamp.to_be_bytes());
    key.extend_from_slice(&principal);
    key.extend_from_slice(&request.nonce);
    key
}

/// The first answer to this very request, if it ran before and the signature is the same key's.
pub(crate) fn recall(
    txn: &dyn Txn,
    signed: &SignedRequest,
) -> Result<Option<Response>, StoreError> {
    if !signed.request.command.mutates() {
        return Ok(None);
    }
    let Some(entry) = txn.get(Table::Nonces, &entry_key(&signed.request))? else {
        return Ok(None);
    };
    let corrupt = |reason: &str| StoreError::Corrupt {
        what: "remembered answer",
        reason: reason.to_string(),
    };
    let (signer, answer) = entry
        .split_first_chunk::<KEY_LEN>()
        .ok_or_else(|| corrupt("shorter than its key"))?;
    let signer = ed25519_dalek::VerifyingKey::from_bytes(signer).map_err(|_| corrupt("bad key"))?;
    if !signed.verify(&signer) {
        return Ok(None);
    }
    Response::decode(answer)
        .map(Some)
        .map_err(|e| corrupt(&e.to_string()))
}

/// Keeps the answer `encoded` of a mutating request signed by `signer`; `true` if it did.
pub(crate) fn remember(
    txn: &mut dyn Txn,
    request: &Request,
    signer: &[u8; KEY_LEN],
    encoded: &[u8],
) -> Result<bool, StoreError> {
    if !request.command.mutates() {
        return Ok(false);
    }
    let mut entry = Vec::with_capacity(KEY_LEN + encoded.len());
    entry.extend_from_slice(signer);
    entry.extend_from_slice(encoded);
    txn.put(Table::Nonces, &entry_key(request), &entry)?;
    Ok(true)
}
