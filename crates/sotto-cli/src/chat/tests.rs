//! The chat driven as a person would: keys in, the screen (a test backend) read back. Two
//! people on a network of five relays in this process make a link, connect, and talk.

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use sotto_client::{init, Device, Unlock};
use tokio::sync::broadcast;

use super::app::{App, Mode};
use super::{start_device, view};
use crate::localnet::Localnet;

struct Person {
    app: App,
    events: broadcast::Receiver<sotto_api::Event>,
}

impl Person {
    async fn open(root: &std::path::Path, net: &Localnet, name: &str) -> Self {
        let home = root.join(name);
        init(&home, name, &Unlock::KeyFile).unwrap();
        let device = Device::open(&home, &Unlock::KeyFile, net.directory.clone()).unwrap();
        let (jobs, events) = start_device(device, None);
        Self {
            app: App::new(jobs).await,
            events,
        }
    }

    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(110, 40)).unwrap();
        terminal.draw(|frame| view::draw(frame, &self.app)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    async fn key(&mut self, code: KeyCode) {
        self.app.on_key(KeyEvent::from(code)).await;
    }

    async fn control(&mut self, c: char) {
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        self.app.on_key(key).await;
    }

    async fn type_line(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c)).await;
        }
        self.key(KeyCode::Enter).await;
    }

    /// Lets pushed events in until the screen shows `text`.
    async fn sees(&mut self, text: &str) {
        let waited = tokio::time::timeout(Duration::from_secs(30), async {
            while !self.screen().contains(text) {
                if let Ok(event) = self.events.recv().await {
                    self.app.on_event(event).await;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "never saw {text:?} on:\n{}", self.screen());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_connect_and_chat_in_the_terminal() {
    let root = std::env::temp_dir().join(format!("sotto-chat-{:016x}", rand::random::<u64>()));
    let net = Localnet::start(&root.join("net"), 5, 86_400).await.unwrap();
    let mut alice = Person::open(&root, &net, "Alice").await;
    let mut bob = Person::open(&root, &net, "Bob").await;
    alice.sees("● online").await;

    alice.control('n').await;
    let Mode::Invite { link, .. } = alice.app.mode.clone() else {
        panic!("Ctrl-N shows a link:\n{}", alice.screen());
    };
    assert!(alice.screen().contains("your one-time link"));
    bob.control('o').await;
    bob.type_line(&link).await;
    bob.sees("connected with Alice").await;
    alice.sees("Bob connected with you").await;

    bob.type_line("hello from the terminal").await;
    bob.sees("me: hello from the terminal").await;
    alice.sees("Bob: hello from the terminal").await;

    alice.control('r').await;
    assert!(alice.screen().contains("reply to: hello from the terminal"));
    alice.type_line("got it").await;
    bob.sees("Alice: ↪ got it").await;
    bob.sees("me: hello from the terminal ✓✓").await;

    // A link works once, and the chat says so.
    let mut carol = Person::open(&root, &net, "Carol").await;
    carol.control('o').await;
    carol.type_line(&link).await;
    assert!(
        carol.screen().contains("already used"),
        "{}",
        carol.screen()
    );

    // The network goes away and comes back: the chat says so, and picks up where it was.
    net.stop().await;
    alice.sees("○ offline").await;
    let net = Localnet::start(&root.join("net"), 5, 86_400).await.unwrap();
    alice.sees("● online").await;
    bob.type_line("still there?").await;
    bob.sees("me: still there?").await;
    alice.sees("Bob: still there?").await;

    net.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}
