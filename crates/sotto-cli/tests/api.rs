//! The WebSocket API of `sotto serve`, driven as a bot would: a real `sotto serve` process on a
//! localnet, a bot on the typed client, and a person on the command line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sotto_api::{ApiClient, ApiError, Event, TOKEN_FILE};
use sotto_testnet::TestLocalnet;

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
        .arg("--home")
        .arg(home)
        .arg("--network")
        .arg(network)
        .output()
        .expect("running sotto")
}

fn serve(home: &Path, network: &Path) -> Serve {
    let mut child = Command::new(SOTTO)
        .args(["serve", "--api", "127.0.0.1:0", "--home"])
        .arg(home)
        .arg("--network")
        .arg(network)
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
    let server = serve(&bot_home, &network);
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

    let contacts = bot.contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].name, "Alice");
    let history = bot.messages("Alice").await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[1].outgoing);
    let error = bot.send("Nobody", "hi", None).await.unwrap_err();
    assert!(
        error.to_string().contains("no contact named 'Nobody'"),
        "{error}"
    );
}
