//! Vouchers at the host and at the issuer: spent once, across restarts too; refused when
//! missing, forged or of a retired key; issued up to a device's daily allowance; and the issuer
//! keeps nothing that a spent voucher could be matched with.

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_proto::voucher::{IssuerKey, Voucher, VoucherKey};
use sotto_proto::{
    Command, ErrorCode, Fingerprint, Id, MailboxKind, Request, Response, ResponseBody,
};

use super::{Host, HostConfig, Issuer, VoucherPolicy};
use crate::store::{MemoryStore, RedbStore, Store, Table};
use crate::temp_dir::TempDir;

const T0: u64 = 1_800_000_000;
const NO_TARGET: Id = Id::from_bytes([0; Id::LEN]);
const ALLOWANCE: u32 = 5;
/// The host of these tests: vouchers are issued for it.
const HOST: Fingerprint = Fingerprint::from_bytes([8; 32]);

fn issuer_key() -> &'static IssuerKey {
    static KEY: OnceLock<IssuerKey> = OnceLock::new();
    KEY.get_or_init(|| IssuerKey::generate(3).unwrap())
}

fn host_policy() -> VoucherPolicy {
    VoucherPolicy {
        accepted: vec![issuer_key().public().clone()],
        own: HOST,
        issuer: None,
    }
}

fn issuer_policy() -> VoucherPolicy {
    VoucherPolicy {
        accepted: vec![issuer_key().public().clone()],
        own: Fingerprint::from_bytes([9; 32]),
        issuer: Some(Issuer {
            keys: vec![issuer_key().clone()],
            per_device_per_day: ALLOWANCE,
        }),
    }
}

/// Vouchers made directly with the issuer's key, for tests of the host alone.
fn voucher() -> Voucher {
    voucher_for(&HOST)
}

fn voucher_for(host: &Fingerprint) -> Voucher {
    let blinded = issuer_key().public().blind(host).unwrap();
    let signed = issuer_key().sign(&blinded.message()).unwrap();
    issuer_key().public().finalize(&blinded, &signed).unwrap()
}

struct Bench<S> {
    host: Host<S>,
    rng: StdRng,
    now: u64,
}

impl<S: Store> Bench<S> {
    fn new(store: S, policy: VoucherPolicy) -> Self {
        Self {
            host: Host::open(store, HostConfig::default())
                .unwrap()
                .with_vouchers(policy),
            rng: StdRng::seed_from_u64(11),
            now: T0,
        }
    }

    fn frame(&mut self, command: Command, key: &SigningKey) -> Vec<u8> {
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut self.rng, &mut nonce);
        Request {
            command,
            nonce,
            timestamp: self.now,
            target: NO_TARGET,
        }
        .seal(key)
        .unwrap()
    }

    fn send_frame(&mut self, frame: &[u8]) -> ResponseBody {
        let outcome = self
            .host
            .handle_batch(&[frame.to_vec()], self.now, &mut self.rng);
        Response::open(&outcome.handled[0].frame).unwrap().body
    }

    fn create_frame(&mut self, voucher: Option<Voucher>) -> Vec<u8> {
        let key = SigningKey::generate(&mut self.rng);
        let command = Command::Create {
            kind: MailboxKind::Conversation,
            ttl_secs: 0,
            quota: 0,
            writer_key: key.verifying_key(),
            reader_key: key.verifying_key(),
            voucher,
        };
        self.frame(command, &key)
    }

    fn create(&mut self, voucher: Option<Voucher>) -> ResponseBody {
        let frame = self.create_frame(voucher);
        self.send_frame(&frame)
    }

    fn put_link(&mut self, voucher: Option<Voucher>) -> ResponseBody {
        let key = SigningKey::generate(&mut self.rng);
        let command = Command::PutLink {
            ttl_secs: 60,
            owner_key: key.verifying_key(),
            data: b"sealed".to_vec(),
            voucher,
        };
        let frame = self.frame(command, &key);
        self.send_frame(&frame)
    }

    /// Asks for `count` vouchers as `device`, and finalizes what comes back.
    fn issue(&mut self, device: &SigningKey, count: usize) -> Result<Vec<Voucher>, ErrorCode> {
        let key = issuer_key().public();
        let blinded: Vec<_> = (0..count).map(|_| key.blind(&HOST).unwrap()).collect();
        let command = Command::Issue {
            device_key: device.verifying_key(),
            epoch: key.epoch(),
            blinded: blinded.iter().map(|b| b.message()).collect(),
        };
        let frame = self.frame(command, device);
        match self.send_frame(&frame) {
            ResponseBody::Issued(signatures) => Ok(blinded
                .iter()
                .zip(&signatures)
                .map(|(b, s)| key.finalize(b, s).unwrap())
                .collect()),
            ResponseBody::Error(code) => Err(code),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// Every key and value the host's store holds, for tests that play a curious relay.
    fn everything_stored(&mut self) -> Vec<u8> {
        let txn = self.host.store.begin().unwrap();
        let mut all = Vec::new();
        for table in Table::ALL {
            for (key, value) in txn.range(table, &[], &[0xff; 64], usize::MAX).unwrap() {
                all.extend_from_slice(&key);
                all.extend_from_slice(&value);
            }
        }
        all
    }
}

fn created(body: &ResponseBody) -> bool {
    matches!(body, ResponseBody::Created { .. })
}

fn refused(code: ErrorCode) -> ResponseBody {
    ResponseBody::Error(code)
}

#[test]
fn without_an_issuer_no_voucher_is_needed() {
    let mut b = Bench::new(MemoryStore::new(), VoucherPolicy::default());
    assert!(created(&b.create(None)));
    assert!(matches!(b.put_link(None), ResponseBody::LinkStored { .. }));
}

#[test]
fn a_flood_without_vouchers_creates_nothing() {
    let mut b = Bench::new(MemoryStore::new(), host_policy());
    for _ in 0..50 {
        assert_eq!(b.create(None), refused(ErrorCode::VoucherNeeded));
        assert_eq!(b.put_link(None), refused(ErrorCode::VoucherNeeded));
    }
    assert_eq!(b.host.stats().mailboxes, 0);
    assert_eq!(b.host.stats().links, 0);
    assert!(created(&b.create(Some(voucher()))));
    assert!(matches!(
        b.put_link(Some(voucher())),
        ResponseBody::LinkStored { .. }
    ));
}

#[test]
fn a_voucher_is_spent_once_but_a_retry_gets_its_first_answer() {
    let mut b = Bench::new(MemoryStore::new(), host_policy());
    let voucher = voucher();
    let frame = b.create_frame(Some(voucher.clone()));
    let first = b.send_frame(&frame);
    assert!(created(&first));
    assert_eq!(b.send_frame(&frame), first, "a lost answer's retry");
    assert_eq!(
        b.create(Some(voucher.clone())),
        refused(ErrorCode::VoucherSpent)
    );
    assert_eq!(b.put_link(Some(voucher)), refused(ErrorCode::VoucherSpent));
    assert_eq!(b.host.stats().mailboxes, 1);
}

#[test]
fn forged_and_foreign_vouchers_are_invalid() {
    let mut b = Bench::new(MemoryStore::new(), host_policy());
    let mut forged = voucher();
    forged.nonce[5] ^= 1;
    assert_eq!(b.create(Some(forged)), refused(ErrorCode::VoucherInvalid));
    let mut other_epoch = voucher();
    other_epoch.epoch += 1;
    assert_eq!(
        b.create(Some(other_epoch)),
        refused(ErrorCode::VoucherInvalid)
    );
    assert_eq!(
        b.create(Some(voucher_for(&Fingerprint::from_bytes([1; 32])))),
        refused(ErrorCode::VoucherInvalid),
        "a voucher issued for another host"
    );
    let other = IssuerKey::generate(3).unwrap();
    let blinded = other.public().blind(&HOST).unwrap();
    let signed = other.sign(&blinded.message()).unwrap();
    let foreign = other.public().finalize(&blinded, &signed).unwrap();
    assert_eq!(b.create(Some(foreign)), refused(ErrorCode::VoucherInvalid));
}

#[test]
fn a_spent_voucher_stays_spent_after_a_restart() {
    let dir = TempDir::new("vouchers");
    let path = dir.0.join("relay.redb");
    let voucher = voucher();
    {
        let mut b = Bench::new(RedbStore::open(&path).unwrap(), host_policy());
        assert!(created(&b.create(Some(voucher.clone()))));
    }
    let mut b = Bench::new(RedbStore::open(&path).unwrap(), host_policy());
    b.now += 3_600; // past the replay window, so only the spent set can refuse it
    assert_eq!(b.create(Some(voucher)), refused(ErrorCode::VoucherSpent));
}

#[test]
fn the_spent_set_forgets_retired_epochs() {
    let mut b = Bench::new(MemoryStore::new(), host_policy());
    assert!(created(&b.create(Some(voucher()))));
    let count = |b: &mut Bench<MemoryStore>| {
        let txn = b.host.store.begin().unwrap();
        txn.count(Table::SpentVouchers).unwrap()
    };
    b.host.sweep(b.now).unwrap();
    assert_eq!(count(&mut b), 1, "a listed epoch's vouchers stay spent");
    let newer = VoucherKey::from_der(4, issuer_key().public().der()).unwrap();
    b.host.vouchers.accepted = vec![newer];
    b.host.sweep(b.now).unwrap();
    assert_eq!(count(&mut b), 0, "a retired epoch's vouchers are forgotten");
    assert_eq!(
        b.create(Some(voucher())),
        refused(ErrorCode::VoucherInvalid)
    );
}

#[test]
fn the_issuer_gives_each_device_its_allowance_a_day() {
    let mut b = Bench::new(MemoryStore::new(), issuer_policy());
    let device = SigningKey::generate(&mut b.rng);
    let vouchers = b.issue(&device, 3).unwrap();
    assert_eq!(vouchers.len(), 3);
    assert!(vouchers
        .iter()
        .all(|v| issuer_key().public().verifies(v, &HOST)));
    assert_eq!(b.issue(&device, 3).err(), Some(ErrorCode::Quota));
    assert_eq!(b.issue(&device, 2).map(|v| v.len()), Ok(2));
    assert_eq!(b.issue(&device, 1).err(), Some(ErrorCode::Quota));
    let other = SigningKey::generate(&mut b.rng);
    assert_eq!(b.issue(&other, 1).map(|v| v.len()), Ok(1));
    b.now += 86_400;
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.issue(&device, 5).map(|v| v.len()), Ok(5));
}

#[test]
fn a_relay_that_is_not_the_issuer_issues_nothing() {
    let mut b = Bench::new(MemoryStore::new(), host_policy());
    let device = SigningKey::generate(&mut b.rng);
    assert_eq!(b.issue(&device, 1).err(), Some(ErrorCode::Auth));
}

/// Who learns what: the issuer learns which device key took vouchers, the host which vouchers
/// were spent; neither store holds anything the other's could be matched with.
#[test]
fn the_issuer_cannot_tell_which_mailbox_used_its_vouchers() {
    let mut issuer = Bench::new(MemoryStore::new(), issuer_policy());
    let mut host = Bench::new(MemoryStore::new(), host_policy());
    // Not from the benches' seeded generators, which draw the same keys.
    let device = SigningKey::generate(&mut rand::rngs::OsRng);
    let vouchers = issuer.issue(&device, 4).unwrap();
    for voucher in &vouchers {
        assert!(created(&host.create(Some(voucher.clone()))));
    }
    let at_issuer = issuer.everything_stored();
    let at_host = host.everything_stored();
    let holds = |haystack: &[u8], needle: &[u8]| {
        needle
            .windows(16)
            .any(|piece| haystack.windows(16).any(|w| w == piece))
    };
    assert!(
        holds(&at_issuer, device.verifying_key().as_bytes()),
        "the test must see what the issuer does keep"
    );
    for voucher in &vouchers {
        assert!(
            holds(&at_host, &voucher.nonce),
            "the host keeps the spent set"
        );
        assert!(!holds(&at_issuer, &voucher.nonce));
        assert!(!holds(&at_issuer, &voucher.signature));
    }
    assert!(!holds(&at_host, device.verifying_key().as_bytes()));
}
