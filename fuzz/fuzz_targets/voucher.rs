#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_proto::voucher::{Voucher, VoucherKey};

fuzz_target!(|data: &[u8]| {
    // A voucher decodes from exactly its bytes and encodes back to them.
    if let Ok(voucher) = Voucher::from_bytes(data) {
        assert_eq!(voucher.to_bytes(), data);
    }
    // Issuer keys come from network files: any bytes are refused or read, never a panic.
    if let Some((&epoch, der)) = data.split_first() {
        if let Ok(key) = VoucherKey::from_der(u32::from(epoch), der) {
            assert_eq!(key.der(), der);
        }
    }
});
