//! The WebSocket API of `sotto serve`, driven as a bot would: a real `sotto serve` process on a
//! localnet, a bot on the typed client, and a person on the command line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sotto_api::{ApiClient, ApiError, Event, TOKEN_FILE};
use sotto_testnet::TestLocalnet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const SOTTO: &str = env!("CARGO_BIN_EXE_sotto");

/// A `sotto serve` process, killed when dropped.
struct Serve {
    child: Child,
    address: String,
    home: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sotto(home: &Path, network: &Path, args: &[&str]) -> std::process::Output {
    Command::new(SOTTO)
        .args(args)
        // Throwaway homes keep their keys in files, never in the person's OS keyring.
        .env("SOTTO_KEYRING", "off")
        .arg("--home")
        .arg(home)
        .arg("--network")
        .arg(network)
        .output()
        .expect("running sotto")
}

fn serve(home: &Path, network: &Path, extra: &[&str]) -> Serve {
    let mut child = Command::new(SOTTO)
        .args(["serve", "--api", "127.0.0.1:0", "--home"])
        .arg(home)
        .arg("--network")
        .arg(network)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting sotto serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the ready line");
    let address = line
        .strip_prefix("api ready ws://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Serve {
        child,
        address,
        home: home.to_path_buf(),
    }
}

async fn next_event(api: &ApiClient, want: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let event = api.next_event().await.expect("the API is open");
            if want(&event) {
                return event;
            }
        }
    })
    .await
    .expect("the event within 30 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_on_the_api_answers_a_person_on_the_command_line() {
    let net = TestLocalnet::start(Path::new(SOTTO), 5);
    let network = net.root().join("network.toml");
    let (bot_home, alice_home) = (net.root().join("bot"), net.root().join("alice"));
    assert!(sotto(&bot_home, &network, &["init", "--name", "Echo"])
        .status
        .success());
    assert!(sotto(&alice_home, &network, &["init", "--name", "Alice"])
        .status
        .success());
    let server = serve(&bot_home, &network, &[]);
    let token = std::fs::read_to_string(server.home.join(TOKEN_FILE)).unwrap();

    let wrong = ApiClient::connect(&server.address, "not-the-token").await;
    assert!(
        matches!(wrong, Err(ApiError::Unauthorized)),
        "a wrong token is refused"
    );

    let bot = ApiClient::connect(&server.address, &token).await.unwrap();
    let link = bot.invite().await.unwrap();
    let out = sotto(&alice_home, &network, &["connect", &link]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    next_event(
        &bot,
        |e| matches!(e, Event::Connected { alias } if alias == "Alice"),
    )
    .await;

    let out = sotto(&alice_home, &network, &["send", "Echo", "ping"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Event::Message(message) = next_event(&bot, |e| matches!(e, Event::Message(_))).await else {
        unreachable!()
    };
    assert_eq!(
        (message.from.as_str(), message.text.as_str()),
        ("Alice", "ping")
    );
    bot.send(
        &message.from,
        &format!("echo: {}", message.text),
        Some(&message.id),
    )
    .await
    .unwrap();

    let out = sotto(&alice_home, &network, &["read", "--wait", "20", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(r#""text":"echo: ping""#), "{stdout}");
    assert!(
        stdout.contains(&format!(r#""reply_to":"{}""#, message.id)),
        "{stdout}"
    );

    // Edit and react through the API, delete and react from the command line; each side
    // sees the other's change.
    let history = bot.messages("Alice").await.unwrap();
    let echo = history.iter().find(|m| m.outgoing).unwrap().id.clone();
    bot.edit("Alice", &echo[..8], "echo: ping!").await.unwrap();
    bot.react("Alice", &message.id, "👍").await.unwrap();
    let error = bot
        .edit("Alice", &message.id, "not mine")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("only its sender"), "{error}");
    let out = sotto(&alice_home, &network, &["read", "--wait", "5"]);
    assert!(out.status.success());
    let out = sotto(&alice_home, &network, &["history", "Echo", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#""text":"echo: ping!""#) && stdout.contains(r#""edited":true"#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""their_reaction":"👍""#), "{stdout}");
    let out = sotto(&alice_home, &network, &["react", "Echo", &echo[..8], "❤"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sotto(&alice_home, &network, &["delete", "Echo", &message.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sotto(&alice_home, &network, &["delete", "Echo", &echo]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only its sender"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    next_event(
        &bot,
        |e| matches!(e, Event::Changed { id, .. } if *id == echo),
    )
    .await;
    next_event(
        &bot,
        |e| matches!(e, Event::Changed { id, .. } if *id == message.id),
    )
    .await;
    let history = bot.messages("Alice").await.unwrap();
    assert_eq!(history[0].id, message.id);
    assert!(
        history[0].deleted && history[0].text.is_empty(),
        "{history:?}"
    );
    assert_eq!(history[1].their_reaction.as_deref(), Some("❤"));

    let contacts = bot.contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].name, "Alice");
    assert_eq!(history.len(), 2);
    assert!(history[1].outgoing);
    let error = bot.send("Nobody", "hi", None).await.unwrap_err();
    assert!(
        error.to_string().contains("no contact named 'Nobody'"),
        "{error}"
    );

    // The served home is the server's alone; a look back reads beside it.
    let out = sotto(&bot_home, &network, &["send", "Alice", "me too"]);
    let error = String::from_utf8_lossy(&out.stderr);
    let held = format!(
        "another sotto (pid {}) is using {}; stop it or use another --home",
        server.child.id(),
        bot_home.display()
    );
    assert!(!out.status.success() && error.contains(&held), "{error}");
    let out = sotto(&bot_home, &network, &["history", "Alice", "--json"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("echo: ping"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The HTTP status an upgrade to `ws://ADDRESS/PATH` with `headers` gets (101: upgraded).
async fn upgrade_status(address: &str, path: &str, headers: &[(&'static str, &str)]) -> u16 {
    let mut request = format!("ws://{address}/{path}")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("the upgrade failed: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_mends_its_token_and_refuses_web_pages_and_stalled_handshakes() {
    let net = TestLocalnet::start(Path::new(SOTTO), 5);
    let network = net.root().join("network.toml");
    let home = net.root().join("bot");
    assert!(sotto(&home, &network, &["init", "--name", "Bot"])
        .status
        .success());
    // What a power cut between creating the token file and writing it leaves.
    std::fs::write(home.join(TOKEN_FILE), "").unwrap();
    let server = serve(&home, &network, &[]);
    let token = std::fs::read_to_string(home.join(TOKEN_FILE)).unwrap();
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "the empty token file was not replaced: {token:?}"
    );
    assert_eq!(upgrade_status(&server.address, "?token=", &[]).await, 401);
    let bearer = format!("Bearer {token}");
    let with_token = ("authorization", bearer.as_str());
    assert_eq!(
        upgrade_status(&server.address, "", &[with_token]).await,
        101
    );
    let evil = ("origin", "https://evil.example");
    assert_eq!(
        upgrade_status(&server.address, "", &[with_token, evil]).await,
        403,
        "a page of another site is refused, token or not"
    );
    drop(server);

    let server = serve(
        &home,
        &network,
        &["--allow-origin", "http://localhost:8080"],
    );
    assert_eq!(
        std::fs::read_to_string(home.join(TOKEN_FILE)).unwrap(),
        token,
        "a whole token is kept"
    );
    let allowed = ("origin", "http://localhost:8080");
    assert_eq!(
        upgrade_status(&server.address, "", &[with_token, allowed]).await,
        101
    );
    assert_eq!(
        upgrade_status(&server.address, "", &[with_token, evil]).await,
        403
    );

    let mut stalled = tokio::net::TcpStream::connect(&server.address)
        .await
        .unwrap();
    stalled.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut buffer = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(20), stalled.read(&mut buffer)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "a connection that never finishes its upgrade stays open: {closed:?}"
    );
}

/// `size` bytes that do not repeat, written to `path`.
fn make_file(path: &Path, size: usize) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_both_ways_through_the_api_while_messages_keep_coming() {
    let net = TestLocalnet::start(Path::new(SOTTO), 5);
    let network = net.root().join("network.toml");
    let (bot_home, alice_home) = (net.root().join("bot"), net.root().join("alice"));
    for (home, name) in [(&bot_home, "Files"), (&alice_home, "Alice")] {
        let out = sotto(home, &network, &["init", "--name", name]);
        assert!(out.status.success());
    }
    let files_dir = net.root().join("bot-files");
    let server = serve(
        &bot_home,
        &network,
        &["--files", files_dir.to_str().unwrap()],
    );
    let token = std::fs::read_to_string(server.home.join(TOKEN_FILE)).unwrap();
    let bot = ApiClient::connect(&server.address, &token).await.unwrap();
    let link = bot.invite().await.unwrap();
    assert!(sotto(&alice_home, &network, &["connect", &link])
        .status
        .success());
    next_event(
        &bot,
        |e| matches!(e, Event::Connected { alias } if alias == "Alice"),
    )
    .await;

    // Alice sends a file from the command line; the bot hears the offer and fetches it from
    // its loop, into its files directory, with progress, while her texts still arrive.
    let source = net.root().join("from-alice.bin");
    make_file(&source, 3 * 1024 * 1024 + 17);
    let out = sotto(
        &alice_home,
        &network,
        &[
            "send",
            "Files",
            "a report",
            "--file",
            source.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Event::Offer(offer) = next_event(&bot, |e| matches!(e, Event::Offer(_))).await else {
        unreachable!()
    };
    assert_eq!(offer.text, "a report");
    let file = offer.file.clone().expect("the offer's file");
    assert_eq!(
        (file.name.as_str(), file.size),
        ("from-alice.bin", 3 * 1024 * 1024 + 17)
    );
    let started = bot.download(&offer.id[..8], None).await.unwrap();
    assert_eq!(started.id, offer.id);
    assert!(
        started.path.starts_with(files_dir.to_str().unwrap()),
        "{started:?}"
    );
    let again = bot.download(&offer.id, None).await.unwrap_err();
    assert!(again.to_string().contains("being transferred"), "{again}");
    let out = sotto(
        &alice_home,
        &network,
        &["send", "Files", "during the download"],
    );
    assert!(out.status.success());
    let mut progress = 0;
    let mut texts = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match bot.next_event().await.expect("the API is open") {
                Event::Progress {
                    id, done, total, ..
                } if id == offer.id => {
                    assert!(done <= total);
                    progress += 1;
                }
                Event::Message(message) => texts.push(message.text),
                Event::Done {
                    id, path, outgoing, ..
                } if id == offer.id => {
                    assert!(!outgoing);
                    return path;
                }
                Event::Failed { reason, .. } => panic!("the download failed: {reason}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the download is done within 120 s");
    assert_eq!(done, started.path);
    assert_eq!(
        std::fs::read(&done).unwrap(),
        std::fs::read(&source).unwrap()
    );
    assert!(progress > 0, "no progress was told");
    if !texts.iter().any(|t| t == "during the download") {
        next_event(
            &bot,
            |e| matches!(e, Event::Message(m) if m.text == "during the download"),
        )
        .await;
    }
    let listed = bot.files().await.unwrap();
    assert_eq!(listed[0].state, "done");
    // Its only recipient has it, so its hosts let it go: fetching it again elsewhere fails,
    // and the event says why.
    let elsewhere = net.root().join("again.bin");
    bot.download(&offer.id, Some(elsewhere.to_str().unwrap()))
        .await
        .unwrap();
    let failed = next_event(&bot, |e| {
        matches!(e, Event::Failed { .. } | Event::Done { .. })
    })
    .await;
    assert!(
        matches!(&failed, Event::Failed { id, reason, .. } if *id == offer.id && reason.contains("gone from its hosts")),
        "{failed:?}"
    );

    // The bot sends a file from a path on its machine; Alice fetches it.
    let reply = net.root().join("from-bot.bin");
    make_file(&reply, 700_000);
    let sent = bot
        .send_file("Alice", reply.to_str().unwrap(), "back to you")
        .await
        .unwrap();
    let done = next_event(&bot, |e| {
        matches!(e, Event::Done { .. } | Event::Failed { .. })
    })
    .await;
    assert!(
        matches!(&done, Event::Done { id, outgoing: true, .. } if *id == sent.id),
        "{done:?}"
    );
    let missing = bot
        .send_file("Alice", "/nonexistent/x.bin", "")
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
    let out = sotto(&alice_home, &network, &["read", "--wait", "20"]);
    assert!(out.status.success());
    let fetched = net.root().join("alice-got.bin");
    let out = sotto(
        &alice_home,
        &network,
        &["download", &sent.id, "--out", fetched.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&fetched).unwrap(),
        std::fs::read(&reply).unwrap()
    );
}
