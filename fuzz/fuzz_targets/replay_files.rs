#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_onion::replay::{ReplayCache, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};

// What a relay reads at start from its data directory: a replay snapshot and a replay log,
// which a crash may have torn and a disk may have damaged. Neither may panic; a snapshot that
// decodes encodes back to the same bytes, and a log that fails changes nothing.
fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = ReplayCache::decode(data) {
        assert_eq!(cache.encode(), data);
    }
    // Past the magic and version, to reach the epochs and filter stages.
    let mut prefixed = SNAPSHOT_MAGIC.to_vec();
    prefixed.push(SNAPSHOT_VERSION);
    prefixed.extend_from_slice(data);
    let _ = ReplayCache::decode(&prefixed);

    let mut cache = ReplayCache::new();
    let before = cache.clone();
    if cache.apply_log(data).is_err() {
        assert!(cache == before, "a refused log changed the cache");
    }
});
