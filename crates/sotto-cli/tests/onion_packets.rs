//! The onion layer seen from the wire: packets of one length, replays dropped (also after the
//! network restarts), garbage counted and survived. A raw client builds packets itself.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use sotto_onion::packet::{new_reply_block, OnionPacket, ReplyKey, PACKET_LEN};
use sotto_onion::request::OnionRequest;
use sotto_proto::{Command, Id, Request, Response};
use sotto_testnet::TestLocalnet;
use tokio::sync::mpsc;

const GATEWAY: usize = 0;
const HOST: usize = 4;

struct RawClient {
    connection: quinn::Connection,
    deliveries: mpsc::UnboundedReceiver<Vec<u8>>,
    _endpoint: quinn::Endpoint,
}

/// A connection to relay `relay`, with the endpoint that must outlive it.
async fn connect(net: &TestLocalnet, relay: usize) -> (quinn::Endpoint, quinn::Connection) {
    let entry = &net.directory().relays()[relay];
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let config = sotto_quic::pinned_client_config(*entry.fingerprint()).unwrap();
    let remote = format!("{}:{}", entry.address().host, entry.address().port)
        .parse()
        .unwrap();
    let connection = endpoint
        .connect_with(config, remote, "sotto-relay")
        .unwrap()
        .await
        .unwrap();
    (endpoint, connection)
}

async fn send(connection: &quinn::Connection, bytes: &[u8]) {
    let mut stream = connection.open_uni().await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream.finish().unwrap();
}

impl RawClient {
    async fn new(net: &TestLocalnet, address: [u8; 32]) -> Self {
        let (endpoint, connection) = connect(net, GATEWAY).await;
        send(&connection, &address).await;
        let (tx, deliveries) = mpsc::unbounded_channel();
        let receiver = connection.clone();
        tokio::spawn(async move {
            while let Ok(mut stream) = receiver.accept_uni().await {
                if let Ok(bytes) = stream.read_to_end(1 << 20).await {
                    let _ = tx.send(bytes);
                }
            }
        });
        Self {
            connection,
            deliveries,
            _endpoint: endpoint,
        }
    }

    async fn delivery(&mut self, within: Duration) -> Option<Vec<u8>> {
        tokio::time::timeout(within, self.deliveries.recv())
            .await
            .ok()
            .flatten()
    }
}

/// A fetch for an unknown mailbox: any answer (AUTH) proves the round trip.
fn frame(body_len: usize) -> Vec<u8> {
    let command = if body_len == 0 {
        Command::Fetch
    } else {
        Command::Write {
            body: vec![1; body_len],
        }
    };
    Request {
        command,
        nonce: rand::random(),
        timestamp: sotto_quic::unix_now(),
        target: Id::from_bytes(rand::random()),
    }
    .seal(&SigningKey::from_bytes(&rand::random()))
    .unwrap()
}

/// A request packet as a client injects it at its gateway, with the index of its first mix.
fn injection(net: &TestLocalnet, client: [u8; 32], frame: Vec<u8>) -> (Vec<u8>, usize, ReplyKey) {
    let dir = net.directory();
    let epoch = dir.current_epoch(sotto_quic::unix_now());
    let (gateway, host) = (net.relay(GATEWAY), net.relay(HOST));
    let mut rng = rand::thread_rng();
    let path = dir
        .choose_path_at(epoch, &gateway, &host, 2, &mut rng)
        .unwrap();
    let back = dir
        .choose_path_at(epoch, &host, &gateway, 2, &mut rng)
        .unwrap();
    let (block, key) = new_reply_block(&back.route(), client).unwrap();
    let payload = OnionRequest {
        reply_blocks: vec![block],
        frame,
    }
    .encode()
    .unwrap();
    let packet = OnionPacket::build(&path.route(), *host.as_bytes(), &payload).unwrap();
    let first = *path.first_hop().fingerprint();
    let mut bytes = first.as_bytes().to_vec();
    bytes.extend_from_slice(&packet.to_wire());
    let index = dir
        .relays()
        .iter()
        .position(|r| *r.fingerprint() == first)
        .unwrap();
    (bytes, index, key)
}

fn answer(key: &ReplyKey, delivery: &[u8]) -> Response {
    let (id, payload) = delivery.split_at(16);
    assert_eq!(id, key.id());
    Response::open(&key.open(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_have_one_length_and_replays_are_dropped_across_restarts() {
    let mut net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let address = rand::random();
    let mut client = RawClient::new(&net, address).await;

    let (small, _, _) = injection(&net, address, frame(1));
    let (large, _, _) = injection(&net, address, frame(12 * 1024));
    assert_eq!(small.len(), 32 + PACKET_LEN);
    assert_eq!(
        small.len(),
        large.len(),
        "a 1-byte and a 12 KiB message look alike"
    );

    let (packet, mix, key) = injection(&net, address, frame(0));
    send(&client.connection, &packet).await;
    let delivered = client
        .delivery(Duration::from_secs(10))
        .await
        .expect("an answer");
    answer(&key, &delivered);

    send(&client.connection, &packet).await;
    assert!(
        client.delivery(Duration::from_secs(2)).await.is_none(),
        "a replay got through"
    );
    let replays = "sotto_onion_drops_total{kind=\"replay\"}";
    assert_eq!(net.counter(mix, replays), 1);

    net.restart();
    let mut client = RawClient::new(&net, address).await;
    send(&client.connection, &packet).await;
    assert!(
        client.delivery(Duration::from_secs(2)).await.is_none(),
        "a replay got through after the restart"
    );
    assert_eq!(
        net.counter(mix, replays),
        1,
        "the restarted mix remembered the tag"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_counted_and_survived() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let (_endpoint, relay) = connect(&net, 2).await;
    send(&relay, &vec![0x5c; PACKET_LEN]).await;
    send(&relay, &[1, 2, 3]).await;
    send(&relay, &vec![0; PACKET_LEN + 1]).await;
    // A client may not take the relay's own id as its address: packets to it are requests.
    send(&relay, net.relay(2).as_bytes()).await;
    // A stream broken off before its packet ended.
    let mut broken = relay.open_uni().await.unwrap();
    broken.write_all(&[0x5c; 1000]).await.unwrap();
    broken.reset(0u32.into()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        net.counter(2, "sotto_onion_drops_total{kind=\"malformed\"}")
            + net.counter(2, "sotto_onion_drops_total{kind=\"bad_mac_or_key\"}"),
        4
    );
    assert_eq!(
        net.counter(2, "sotto_onion_drops_total{kind=\"incomplete\"}"),
        1
    );

    let address = rand::random();
    let mut client = RawClient::new(&net, address).await;
    let (packet, _, key) = injection(&net, address, frame(0));
    send(&client.connection, &packet).await;
    let delivered = client
        .delivery(Duration::from_secs(10))
        .await
        .expect("the network still works");
    answer(&key, &delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_in_a_network_refuse_direct_mailbox_requests() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let address = net.directory().relays()[HOST].address().clone();
    let transport = sotto_client::DirectTransport::connect(&address)
        .await
        .unwrap()
        .retry_for(Duration::from_secs(1));
    let client = sotto_client::MailboxClient::new(transport);
    let refused = client
        .create(sotto_client::MailboxOptions::new(
            sotto_proto::MailboxKind::Conversation,
        ))
        .await;
    assert!(
        matches!(refused, Err(sotto_client::ClientError::Transport(_))),
        "a network relay answered a direct request: {:?}",
        refused.map(|_| ())
    );
}

/// Changes every relay's `relay.toml` (each `(line, replacement)`, whole lines) and restarts
/// the network on its directory: limits a test's flood should meet quickly.
fn configure_relays(net: &mut TestLocalnet, changes: &[(&str, String)]) {
    for entry in std::fs::read_dir(net.root()).unwrap() {
        let config = entry.unwrap().path().join("relay.toml");
        let Ok(mut text) = std::fs::read_to_string(&config) else {
            continue;
        };
        for (line, replacement) in changes {
            assert!(text.contains(&format!("{line}\n")), "{line} not in {text}");
            text = text.replace(&format!("{line}\n"), &format!("{replacement}\n"));
        }
        std::fs::write(&config, text).unwrap();
    }
    net.restart();
}

/// A client that injects junk as fast as it can is stopped at its gateway by its own rate
/// limit; another client of the same gateway keeps getting its answers meanwhile, and the
/// mixes see no more junk than the injector's allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_junk_injector_is_stopped_at_the_gateway_while_another_client_is_answered() {
    const RATE: u32 = 20;
    const BURST: u32 = 40;
    let mut net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    configure_relays(
        &mut net,
        &[
            (
                "client_packets_per_second = 100",
                format!("client_packets_per_second = {RATE}"),
            ),
            (
                "client_packets_burst = 1000",
                format!("client_packets_burst = {BURST}"),
            ),
        ],
    );

    let (_junk_endpoint, junk) = connect(&net, GATEWAY).await;
    let mixes: Vec<[u8; 32]> = (1..HOST).map(|i| *net.relay(i).as_bytes()).collect();
    let started = std::time::Instant::now();
    // Dropping a connection's last handle would discard what it has not sent yet.
    let _junk_kept = junk.clone();
    let flood = tokio::spawn(async move {
        for n in 0..600usize {
            let mut bytes = mixes[n % mixes.len()].to_vec();
            bytes.extend((0..PACKET_LEN).map(|_| rand::random::<u8>()));
            if send_or_fail(&junk, &bytes).await.is_err() {
                break;
            }
        }
    });

    let address = rand::random();
    let mut honest = RawClient::new(&net, address).await;
    let mut waits = Vec::new();
    for _ in 0..10 {
        let (packet, _, key) = injection(&net, address, frame(0));
        let sent = std::time::Instant::now();
        send(&honest.connection, &packet).await;
        let delivered = honest
            .delivery(Duration::from_secs(10))
            .await
            .expect("the honest client is answered during the flood");
        answer(&key, &delivered);
        waits.push(sent.elapsed());
    }
    flood.await.unwrap();
    // The flood's streams are queued, not yet all read: wait until the gateway took each in
    // (stopped, or passed on besides the honest client's 10 requests and 10 answers).
    let junk_stopped = || net.counter(GATEWAY, "sotto_onion_drops_total{kind=\"busy\"}");
    let junk_seen = || {
        junk_stopped()
            + net
                .counter(
                    GATEWAY,
                    "sotto_onion_packets_total{role=\"gateway\",direction=\"in\"}",
                )
                .saturating_sub(20)
    };
    let wait_until = std::time::Instant::now() + Duration::from_secs(20);
    while junk_seen() < 600 && std::time::Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed().as_secs() + 1;

    waits.sort();
    eprintln!(
        "honest round trips under the flood: p50 {:?}, max (p99 of 10) {:?}",
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
    let busy = junk_stopped();
    let allowance = u64::from(BURST) + u64::from(RATE) * elapsed;
    assert!(
        busy + allowance >= 600,
        "only {busy} of 600 junk packets stopped"
    );
    let junk_at_mixes: u64 = (1..HOST)
        .map(|i| net.counter(i, "sotto_onion_drops_total{kind=\"bad_mac_or_key\"}"))
        .sum();
    assert!(
        junk_at_mixes <= allowance,
        "{junk_at_mixes} junk packets reached the mixes, allowance {allowance}"
    );
}

async fn send_or_fail(connection: &quinn::Connection, bytes: &[u8]) -> Result<(), String> {
    let mut stream = connection.open_uni().await.map_err(|e| e.to_string())?;
    stream.write_all(bytes).await.map_err(|e| e.to_string())?;
    stream.finish().map_err(|e| e.to_string())
}

/// Connections beyond the relay's limit are refused, a stream that dawdles is cut off, and
/// the relay serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_is_refused_and_a_slow_stream_cut_off() {
    let mut net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    configure_relays(
        &mut net,
        &[
            ("max_connections = 10000", "max_connections = 12".into()),
            ("stream_timeout_secs = 30", "stream_timeout_secs = 1".into()),
        ],
    );
    let target = 2;
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        let entry = &net.directory().relays()[target];
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let config = sotto_quic::pinned_client_config(*entry.fingerprint()).unwrap();
        let remote = format!("{}:{}", entry.address().host, entry.address().port)
            .parse()
            .unwrap();
        let connecting = endpoint
            .connect_with(config, remote, "sotto-relay")
            .unwrap();
        match tokio::time::timeout(Duration::from_secs(5), connecting).await {
            Ok(Ok(connection)) => held.push((endpoint, connection)),
            _ => refused += 1,
        }
    }
    assert!(held.len() <= 12 && refused >= 8, "{} held", held.len());
    assert_eq!(
        net.counter(
            target,
            "sotto_connections_refused_total{kind=\"relay_full\"}"
        ),
        refused
    );

    let (_, connection) = &held[0];
    let mut slow = connection.open_uni().await.unwrap();
    slow.write_all(&[0x5c; 1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        net.counter(target, "sotto_onion_drops_total{kind=\"stream_timeout\"}"),
        1
    );
    drop(slow);

    drop(held);
    let address = rand::random();
    let mut client = RawClient::new(&net, address).await;
    let (packet, _, key) = injection(&net, address, frame(0));
    send(&client.connection, &packet).await;
    let delivered = client
        .delivery(Duration::from_secs(10))
        .await
        .expect("the network still works");
    answer(&key, &delivered);
}
