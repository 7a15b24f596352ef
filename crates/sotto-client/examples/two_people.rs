//! Two people talk through an onion network: Alice makes a mailbox on one relay and hands Bob
//! its write capability (in sotto proper, through a one-time link). Each enters the network at
//! a different gateway; every message goes gateway -> mix -> mix -> host and is pushed back
//! host -> mix -> mix -> gateway, so no relay learns both who talks and which mailbox it is.
//!
//! Run: `cargo run -p sotto-client --example two_people -- <network file>`
//! (`scripts/demo` starts a localnet and runs this for you.)

use std::time::{Duration, Instant};

use sotto_client::{MailboxClient, MailboxOptions, OnionTransport};
use sotto_onion::directory::NetworkFile;
use sotto_proto::MailboxKind;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args()
        .nth(1)
        .ok_or("usage: two_people <network file, as `sotto localnet` wrote it>")?;
    let directory = NetworkFile::parse(&std::fs::read_to_string(&file)?)?;
    let relays: Vec<_> = directory
        .relays()
        .iter()
        .map(|r| *r.fingerprint())
        .collect();
    let host = *relays.last().ok_or("the network has no relays")?;
    let renew = Duration::from_secs(30);
    let alice = MailboxClient::new(
        OnionTransport::connect(directory.clone(), relays[0], host, renew).await?,
    );
    let bob = MailboxClient::new(OnionTransport::connect(directory, relays[1], host, renew).await?);

    let mailbox = alice
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await?;
    alice.subscribe(&mailbox.read).await?;
    println!("alice: created a mailbox on relay {host} and gave bob its write capability");

    for line in [
        "hi alice, it's bob",
        "nobody but you can read this",
        "not even the relays",
    ] {
        let sent = Instant::now();
        bob.write(&mailbox.write, line.as_bytes()).await?;
        println!("bob  > {line}");
        let push = tokio::time::timeout(Duration::from_secs(10), alice.next_push()).await??;
        println!(
            "alice< {} (message {}, {} ms after bob sent it)",
            String::from_utf8_lossy(&push.message.body),
            push.message.seq,
            sent.elapsed().as_millis()
        );
        alice.ack(&mailbox.read, push.message.seq).await?;
    }
    alice.delete(&mailbox.read).await?;
    println!("alice: acknowledged everything and deleted the mailbox; the relays hold nothing");
    Ok(())
}
