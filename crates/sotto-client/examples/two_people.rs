//! Two people talk through one relay: Alice makes a mailbox and hands Bob its write capability
//! (in sotto proper, through a one-time link); Bob writes, Alice gets each message pushed and
//! acknowledges it, and the relay forgets it.
//!
//! Run: `cargo run -p sotto-client --example two_people -- <relay address>`
//! (`scripts/demo` starts a relay and runs this for you.)

use std::time::Duration;

use sotto_client::{DirectTransport, MailboxClient, MailboxOptions};
use sotto_proto::{MailboxKind, RelayAddress};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address: RelayAddress = std::env::args()
        .nth(1)
        .ok_or("usage: two_people <relay address, as `sotto relay init` printed it>")?
        .parse()?;
    let alice = MailboxClient::new(DirectTransport::connect(&address).await?);
    let bob = MailboxClient::new(DirectTransport::connect(&address).await?);

    let mailbox = alice
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await?;
    alice.subscribe(&mailbox.read).await?;
    println!("alice: created a mailbox and gave bob its write capability");

    for line in [
        "hi alice, it's bob",
        "nobody but you can read this",
        "not even the relay",
    ] {
        bob.write(&mailbox.write, line.as_bytes()).await?;
        println!("bob  > {line}");
        let push = tokio::time::timeout(Duration::from_secs(10), alice.next_push()).await??;
        println!(
            "alice< {} (message {})",
            String::from_utf8_lossy(&push.message.body),
            push.message.seq
        );
        alice.ack(&mailbox.read, push.message.seq).await?;
    }
    alice.delete(&mailbox.read).await?;
    println!("alice: acknowledged everything and deleted the mailbox; the relay holds nothing");
    Ok(())
}
