#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::files::{ChunkSet, FileKey};
use sotto_proto::conversation::Content;

// What a file transfer reads back that others made or stored: the progress kept in the device
// store, a chunk as its host returns it, and the offer (Content kind 5). None may panic; what
// decodes encodes back to the same bytes; no chunk opens without the file's key.
fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let count = u32::from_be_bytes(*head) % 100_000;
    if let Some(set) = ChunkSet::from_bytes(count, rest.to_vec()) {
        assert_eq!(set.to_bytes(), rest);
        assert_eq!(set.done() + set.missing().count() as u32, count);
    }
    let key = FileKey::from_bytes([7; 32]);
    assert!(key.open(count, count.saturating_add(1), rest).is_none());
    let mut offer = vec![5u8];
    offer.extend_from_slice(rest);
    if let Ok(content) = Content::decode(&offer) {
        assert_eq!(content.encode().expect("a decoded offer encodes"), offer);
    }
});
