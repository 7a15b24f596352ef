//! The pools' bounds and sharing, with blocks made as clients make them.

use sotto_onion::packet::{new_reply_block, RouteHop};
use tokio::sync::mpsc;

use super::*;

fn block() -> ReplyBlock {
    let hop = RouteHop {
        node: [1; 32],
        onion_key: sphinx_packet::crypto::PublicKey::from(
            &sphinx_packet::crypto::PrivateKey::random(),
        )
        .to_bytes(),
    };
    new_reply_block(&[hop], [2; 32]).unwrap().0
}

fn take(pools: &PushPools, reader: &Id) -> Option<ReplyBlock> {
    match pools.take_or_hold(reader, b"push") {
        Fate::Send(block) => Some(block),
        Fate::Held | Fate::Dropped | Fate::Unknown => None,
    }
}

fn pools_with_sink() -> (PushPools, mpsc::Receiver<Vec<u8>>) {
    let pools = PushPools::default();
    let (frames, queue) = mpsc::channel(64);
    *pools.sink.lock().unwrap() = Some(PushSink {
        id: u64::MAX,
        connection: None,
        frames,
    });
    (pools, queue)
}

#[test]
fn subscribe_replaces_ack_adds_and_old_pools_go() {
    let pools = PushPools::default();
    let reader = Id::from_bytes([3; Id::LEN]);
    pools.deposit(&[reader], vec![block(), block()], false, Instant::now());
    pools.deposit(&[reader], vec![block()], true, Instant::now());
    assert!(take(&pools, &reader).is_some());
    assert!(
        take(&pools, &reader).is_none(),
        "subscribing replaced the older blocks"
    );
    pools.deposit(
        &[reader],
        (0..20).map(|_| block()).collect(),
        false,
        Instant::now(),
    );
    pools.prune(Duration::from_secs(3600), Instant::now());
    assert_eq!(
        (0..20).filter(|_| take(&pools, &reader).is_some()).count(),
        MAX_BLOCKS_PER_POOL
    );
    pools.deposit(&[reader], vec![block()], false, Instant::now());
    pools.prune(Duration::ZERO, Instant::now());
    assert!(take(&pools, &reader).is_none(), "pruned");
}

#[test]
fn reply_blocks_are_bounded_across_readers() {
    let pools = PushPools::default();
    pools.lock().max_blocks = MAX_BLOCKS_PER_POOL + 4;
    let (first, second) = (Id::from_bytes([7; Id::LEN]), Id::from_bytes([8; Id::LEN]));
    let many = || (0..MAX_BLOCKS_PER_POOL).map(|_| block()).collect();
    assert_eq!(
        pools.deposit(&[first], many(), true, Instant::now()),
        Deposited::Kept
    );
    assert_eq!(
        pools.deposit(&[second], many(), true, Instant::now()),
        Deposited::Trimmed,
        "the second pool gets what the bound leaves"
    );
    assert_eq!(pools.lock().blocks, MAX_BLOCKS_PER_POOL + 4);
    assert!(take(&pools, &second).is_some());
    assert_eq!(pools.lock().blocks, MAX_BLOCKS_PER_POOL + 3);
    // Subscribing again gives the old pool's blocks back, so the first reader keeps its own.
    assert_eq!(
        pools.deposit(&[first], many(), true, Instant::now()),
        Deposited::Kept
    );
}

#[test]
fn a_push_without_a_block_goes_out_with_the_next_acknowledgement() {
    let (pools, mut queue) = pools_with_sink();
    let reader = Id::from_bytes([4; Id::LEN]);
    pools.deposit(&[reader], vec![block()], true, Instant::now());
    assert!(matches!(pools.take_or_hold(&reader, b"1"), Fate::Send(_)));
    assert!(matches!(pools.take_or_hold(&reader, b"2"), Fate::Held));
    assert!(matches!(pools.take_or_hold(&reader, b"3"), Fate::Held));
    pools.deposit(&[reader], vec![block()], false, Instant::now());
    assert_eq!(
        queue.try_recv().unwrap(),
        b"2",
        "one block releases one push"
    );
    assert!(queue.try_recv().is_err());
    pools.deposit(&[reader], vec![block(), block()], false, Instant::now());
    assert_eq!(queue.try_recv().unwrap(), b"3");
    assert_eq!(pools.lock().held, 0);
}

#[test]
fn a_subscription_forgets_held_pushes_and_holding_is_bounded() {
    let (pools, mut queue) = pools_with_sink();
    let reader = Id::from_bytes([5; Id::LEN]);
    pools.deposit(&[reader], Vec::new(), true, Instant::now());
    for i in 0..MAX_HELD_PER_POOL + 3 {
        assert!(matches!(
            pools.take_or_hold(&reader, &[i as u8]),
            Fate::Held
        ));
    }
    assert_eq!(pools.lock().held, MAX_HELD_PER_POOL, "the oldest go first");
    pools.deposit(&[reader], vec![block()], false, Instant::now());
    assert_eq!(queue.try_recv().unwrap(), [3], "the oldest kept one");
    pools.deposit(&[reader], vec![block()], true, Instant::now());
    assert!(
        queue.try_recv().is_err(),
        "the subscription's answer has them"
    );
    assert_eq!(pools.lock().held, 0);

    let stranger = Id::from_bytes([6; Id::LEN]);
    assert!(matches!(pools.take_or_hold(&stranger, b"x"), Fate::Unknown));
    for n in 0..MAX_HELD / MAX_HELD_PER_POOL + 1 {
        let reader = Id::from_bytes([n as u8 + 10; Id::LEN]);
        pools.deposit(&[reader], Vec::new(), true, Instant::now());
        for _ in 0..MAX_HELD_PER_POOL {
            pools.take_or_hold(&reader, b"x");
        }
    }
    assert_eq!(
        pools.lock().held,
        MAX_HELD,
        "held pushes are bounded in all"
    );
}

/// The subscribes of one batch frame share its blocks: a push to any of their readers takes
/// one, an acknowledgement of any tops the pool up and releases what was held for the others,
/// and a reader that subscribes again alone leaves the pool to the rest.
#[test]
fn readers_subscribed_together_share_one_pool() {
    let (pools, mut queue) = pools_with_sink();
    let readers: Vec<Id> = (20..24).map(|n| Id::from_bytes([n; Id::LEN])).collect();
    pools.deposit(&readers, vec![block(), block()], true, Instant::now());
    assert!(take(&pools, &readers[0]).is_some());
    assert!(take(&pools, &readers[3]).is_some());
    assert!(matches!(pools.take_or_hold(&readers[1], b"1"), Fate::Held));
    assert!(matches!(pools.take_or_hold(&readers[2], b"2"), Fate::Held));
    pools.deposit(&readers[3..], vec![block()], false, Instant::now());
    assert_eq!(
        queue.try_recv().unwrap(),
        b"1",
        "another reader's ack released it"
    );
    assert!(queue.try_recv().is_err());
    // Reader 2 subscribes alone: what was held for it goes, the others keep the pool.
    pools.deposit(&readers[2..3], vec![block()], true, Instant::now());
    assert_eq!(pools.lock().held, 0);
    assert_eq!(pools.lock().by_id.len(), 2);
    pools.deposit(&readers[0..1], vec![block()], false, Instant::now());
    assert!(take(&pools, &readers[1]).is_some());
    assert!(take(&pools, &readers[2]).is_some());
    assert!(take(&pools, &readers[2]).is_none(), "its own pool had one");
    // When every reader of a pool subscribed elsewhere, the pool goes with its blocks.
    pools.deposit(
        &[readers[0], readers[1], readers[3]],
        Vec::new(),
        true,
        Instant::now(),
    );
    assert_eq!(pools.lock().by_id.len(), 2);
    assert_eq!(pools.lock().blocks, 0);
}
