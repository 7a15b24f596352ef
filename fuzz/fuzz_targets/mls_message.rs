#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::conversation::mls;

// Everything a conversation mailbox or a link's answer hands to MLS is parsed here first.
fuzz_target!(|data: &[u8]| {
    let _ = mls::protocol_message(data);
    let _ = mls::welcome(data);
});
