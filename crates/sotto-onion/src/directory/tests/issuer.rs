//! The voucher issuer in the network file: written and read back signed, covered by the
//! signature, checked before it, and absent from files of networks without vouchers.

use std::sync::OnceLock;

use sotto_proto::voucher::{IssuerKey, VoucherKey};

use super::*;

fn issuer_key() -> &'static IssuerKey {
    static KEY: OnceLock<IssuerKey> = OnceLock::new();
    KEY.get_or_init(|| IssuerKey::generate(9).unwrap())
}

fn with_issuer(relay: u8) -> Directory {
    let issuer = VoucherIssuer::new(fp(relay), vec![issuer_key().public().clone()]).unwrap();
    directory(3).with_issuer(issuer).unwrap()
}

#[test]
fn an_issuer_reads_back_signed() {
    let text = signed(with_issuer(2)).to_toml();
    let read = NetworkFile::parse(&text).unwrap();
    let issuer = read.issuer().unwrap();
    assert_eq!(issuer.relay(), &fp(2));
    assert_eq!(issuer.newest().epoch(), 9);
    assert!(issuer.keys()[0] == *issuer_key().public());
    assert_eq!(read, signed(with_issuer(2)));
}

#[test]
fn an_issuer_section_reads_back_alone() {
    let issuer = with_issuer(2).issuer().cloned().unwrap();
    let text = issuer.to_toml();
    assert!(text.starts_with("[issuer]"));
    assert_eq!(VoucherIssuer::from_toml(&text).unwrap(), issuer);
    assert!(matches!(
        VoucherIssuer::from_toml("[issuer]\nrelay = \"00\"\nkeys = []\n"),
        Err(DirectoryError::IssuerRelay)
    ));
}

#[test]
fn a_file_without_an_issuer_is_signed_as_before() {
    let text = signed(directory(3)).to_toml();
    assert!(!text.contains("[issuer]"));
    assert_eq!(NetworkFile::parse(&text).unwrap().issuer(), None);
}

#[test]
fn the_signature_covers_the_issuer() {
    let text = signed(with_issuer(2)).to_toml();
    let other = IssuerKey::generate(9).unwrap();
    let swapped = text.replace(
        &hex::encode(issuer_key().public().der()),
        &hex::encode(other.public().der()),
    );
    assert!(matches!(
        NetworkFile::parse(&swapped),
        Err(DirectoryError::BadSignature { .. })
    ));
    let moved = text.replace(
        &hex::encode(fp(2).as_bytes()),
        &hex::encode(fp(3).as_bytes()),
    );
    assert!(NetworkFile::parse(&moved).is_err());
    let dropped = text[..text.find("\n[issuer]").unwrap()].to_string();
    assert!(matches!(
        NetworkFile::parse(&dropped),
        Err(DirectoryError::BadSignature { .. })
    ));
}

#[test]
fn a_bad_issuer_is_refused_with_what_is_wrong() {
    let text = signed(directory(3)).to_toml();
    let der = hex::encode(issuer_key().public().der());
    let with = |section: String| format!("{text}\n[issuer]\n{section}\n");
    let cases = [
        (
            format!("relay = \"{}\"\nkeys = [{{ epoch = 1, public_key = \"{der}\" }}]", hex::encode(fp(7).as_bytes())),
            DirectoryError::IssuerRelay,
        ),
        (
            format!("relay = \"{}\"\nkeys = [{{ epoch = 1, public_key = \"00ff\" }}]", hex::encode(fp(1).as_bytes())),
            DirectoryError::IssuerKey(1),
        ),
        (
            format!("relay = \"{}\"\nkeys = []", hex::encode(fp(1).as_bytes())),
            DirectoryError::IssuerKeyCount(0),
        ),
        (
            format!(
                "relay = \"{}\"\nkeys = [{{ epoch = 1, public_key = \"{der}\" }}, {{ epoch = 1, public_key = \"{der}\" }}]",
                hex::encode(fp(1).as_bytes())
            ),
            DirectoryError::IssuerEpochTwice(1),
        ),
    ];
    for (section, expected) in cases {
        assert_eq!(NetworkFile::parse(&with(section)).err(), Some(expected));
    }
    assert!(VoucherKey::from_der(1, &[1, 2, 3]).is_err());
}
