#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_proto::mls_object::MlsObject;

// The record naming a large MLS message comes from any writer of a group mailbox: bad bytes
// get an error, and what decodes encodes back to the very same bytes.
fuzz_target!(|data: &[u8]| {
    if let Ok(object) = MlsObject::decode(data) {
        assert!(MlsObject::is_one(data));
        assert_eq!(object.encode().expect("a decoded record encodes"), data);
    }
});
