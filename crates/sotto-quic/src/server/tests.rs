use sotto_proto::Fingerprint;

use super::*;
use crate::{pinned_client_config, stream};

/// A relay endpoint on 127.0.0.1 presenting `identity`, which reads one stream of each
/// connection (at most 8 bytes) and hands over what it read.
fn relay(identity: &SigningKey) -> (quinn::Endpoint, tokio::sync::mpsc::Receiver<String>) {
    let endpoint = quinn::Endpoint::server(
        server_config(identity).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let (read, reads) = tokio::sync::mpsc::channel(4);
    let accepting = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accepting.accept().await {
            let Ok(connection) = incoming.await else {
                continue;
            };
            let Ok(mut recv) = connection.accept_uni().await else {
                continue;
            };
            let outcome = match stream::receive(&mut recv, 8).await {
                Ok(message) => String::from_utf8_lossy(&message).into_owned(),
                Err(error) => error.to_string(),
            };
            let _ = read.send(outcome).await;
        }
    });
    (endpoint, reads)
}

/// A connection to `relay` from a client pinned to `pinned`, with the client's endpoint,
/// which must outlive it.
async fn connect(
    relay: &quinn::Endpoint,
    pinned: Fingerprint,
) -> (
    quinn::Endpoint,
    Result<quinn::Connection, quinn::ConnectionError>,
) {
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let remote = relay.local_addr().unwrap();
    let connection = client
        .connect_with(pinned_client_config(pinned).unwrap(), remote, "sotto-relay")
        .unwrap()
        .await;
    (client, connection)
}

fn fingerprint(identity: &SigningKey) -> Fingerprint {
    Fingerprint::of_key(identity.verifying_key().as_bytes())
}

#[tokio::test]
async fn a_client_pinned_to_the_relay_connects_and_its_messages_arrive_whole() {
    let identity = SigningKey::generate(&mut rand::rngs::OsRng);
    let (relay, mut reads) = relay(&identity);
    // Each connection is held until its stream is read: dropping the last handle of a
    // connection discards what it has not sent yet.
    let (_client, connection) = connect(&relay, fingerprint(&identity)).await;
    let connection = connection.unwrap();
    stream::send(&connection, b"packet").await.unwrap();
    assert_eq!(reads.recv().await.unwrap(), "packet");
    let (_client, again) = connect(&relay, fingerprint(&identity)).await;
    let again = again.unwrap();
    stream::send(&again, b"too long a packet").await.unwrap();
    assert_eq!(
        reads.recv().await.unwrap(),
        stream::StreamError::TooLong(8).to_string()
    );
}

#[tokio::test]
async fn a_client_pinned_to_another_fingerprint_is_refused() {
    let identity = SigningKey::generate(&mut rand::rngs::OsRng);
    let (relay, _reads) = relay(&identity);
    let other = SigningKey::generate(&mut rand::rngs::OsRng);
    let (_client, refused) = connect(&relay, fingerprint(&other)).await;
    assert!(refused.is_err());
}
