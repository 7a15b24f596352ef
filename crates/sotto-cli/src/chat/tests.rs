//! The chat driven as a person would: keys in, the screen (a test backend) read back. Two
//! people on a network of five relays in this process make a link, connect, and talk; and a
//! long conversation, given to the chat without a network, is scrolled through.

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use sotto_app::{AppEvent, AppHandle, Contact, Home, MessageView, Unlock};
use tokio::sync::broadcast;

use super::app::{App, Mode};
use super::view;
use crate::localnet::Localnet;

fn screen(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(110, 40)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
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

struct Person {
    app: App,
    events: broadcast::Receiver<AppEvent>,
}

impl Person {
    async fn open(root: &std::path::Path, net: &Localnet, name: &str) -> Self {
        let home = Home::new(root.join(name));
        sotto_app::init(&home, name, &Unlock::KeyFile, None, None).unwrap();
        let (device, events) =
            sotto_app::App::open(home, &Unlock::KeyFile, Some(&net.network_file))
                .unwrap()
                .start();
        Self {
            app: App::new(device).await,
            events,
        }
    }

    fn screen(&mut self) -> String {
        screen(&mut self.app)
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
    let net = Localnet::start(&root.join("net"), 5, 86_400, None)
        .await
        .unwrap();
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

    // Bob edits his message, Alice likes it, Bob deletes it: each seen on the other side.
    bob.control('e').await;
    assert_eq!(bob.app.composer, "hello from the terminal");
    for _ in 0.."hello from the terminal".len() {
        bob.key(KeyCode::Backspace).await;
    }
    bob.type_line("hello, edited").await;
    alice.sees("Bob: hello, edited (edited)").await;
    alice.control('l').await;
    bob.sees("them]").await;
    bob.control('d').await;
    assert!(bob.screen().contains("delete your last message"));
    bob.key(KeyCode::Enter).await;
    alice.sees("Bob: (deleted)").await;

    // Bob sends a file with /file; Alice sees it numbered, fetches it with /download 1.
    let source = root.join("notes.txt");
    std::fs::write(&source, "the notes, byte for byte".repeat(5000)).unwrap();
    bob.type_line(&format!("/file {} my notes", source.display()))
        .await;
    bob.sees("sent").await;
    alice.sees("[#1 file notes.txt, 120.0 KB] my notes").await;
    let out = root.join("fetched.txt");
    alice
        .type_line(&format!("/download 1 {}", out.display()))
        .await;
    alice.sees("file saved to").await;
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&source).unwrap()
    );
    alice.type_line("/download 7").await;
    assert!(alice.screen().contains("no file #7"), "{}", alice.screen());

    // A group: Alice makes one and invites Bob; it is listed on his side once he is in, and
    // each sees who wrote what in it.
    alice.type_line("/group create Friends").await;
    alice.sees("group Friends made").await;
    assert!(alice.screen().contains("# Friends"), "{}", alice.screen());
    alice.type_line("/group add Bob").await;
    alice.sees("Bob invited into Friends").await;
    bob.sees("# Friends").await;
    bob.key(KeyCode::Down).await;
    assert_eq!(
        bob.app.selected_group().map(String::as_str),
        Some("Friends")
    );
    bob.type_line("hi Friends").await;
    bob.sees("me: hi Friends").await;
    alice.sees("Bob: hi Friends").await;
    alice.type_line("/members").await;
    alice.sees("members of Friends: ").await;
    for member in ["Alice (owner, you)", "Bob (member)"] {
        assert!(alice.screen().contains(member), "{}", alice.screen());
    }
    let said = alice.screen().matches("Bob: hi Friends").count();
    assert_eq!(said, 1, "shown once:\n{}", alice.screen());
    bob.key(KeyCode::Up).await;
    alice.key(KeyCode::Up).await;

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
    let net = Localnet::start(&root.join("net"), 5, 86_400, None)
        .await
        .unwrap();
    alice.sees("● online").await;
    bob.type_line("still there?").await;
    bob.sees("me: still there?").await;
    alice.sees("Bob: still there?").await;

    net.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// A chat with Bob selected and no device behind it: keys that only move the view need none.
async fn chat_with_bob() -> App {
    let mut app = App::new(AppHandle::stopped()).await;
    app.contacts = vec![Contact {
        alias: "Bob".into(),
        name: "Bob".into(),
        unread: 0,
        disappear_secs: 0,
    }];
    app
}

fn from_bob(text: &str) -> MessageView {
    MessageView {
        contact: "Bob".into(),
        group: None,
        text: text.into(),
        id: rand::random(), // each its own: the chat shows a message id once
        sent_at_ms: 0,
        reply_to: None,
        outgoing: false,
        delivered: false,
        edited: false,
        deleted: false,
        my_reaction: None,
        their_reaction: None,
        file: None,
    }
}

#[tokio::test]
async fn a_file_message_shows_the_file() {
    let mut app = chat_with_bob().await;
    let mut offer = from_bob("the slides");
    offer.id = [0xab; 16];
    offer.file = Some(sotto_app::MessageFile {
        name: "slides.pdf".into(),
        size: 1234,
        kind: sotto_proto::file_offer::FileKind::File,
        media: None,
    });
    app.on_event(AppEvent::Message(offer)).await;
    let shown = screen(&mut app);
    assert!(
        shown.contains("[#1 file slides.pdf, 1.2 KB] the slides"),
        "{shown}"
    );
    app.on_event(AppEvent::FileProgress {
        id: [0xab; 16],
        contact: "Bob".into(),
        outgoing: false,
        done: 500,
        total: 1234,
    })
    .await;
    let moving = screen(&mut app);
    assert!(moving.contains("↓ 500 B of 1.2 KB (40%)"), "{moving}");
    app.on_event(AppEvent::FileFailed {
        id: [0xab; 16],
        contact: "Bob".into(),
        outgoing: false,
        reason: "the disk is full".into(),
    })
    .await;
    let stopped = screen(&mut app);
    assert!(!stopped.contains("↓ 500 B"), "{stopped}");
    assert!(
        stopped.contains("file abababab stopped: the disk is full"),
        "{stopped}"
    );
}

#[test]
fn file_commands_are_read_from_the_composer() {
    use super::app::{file_command, FileCommand};
    use std::path::PathBuf;
    assert_eq!(
        file_command("/file /tmp/a.png look at this"),
        Some(FileCommand::Send {
            path: PathBuf::from("/tmp/a.png"),
            caption: "look at this".into()
        })
    );
    assert_eq!(
        file_command("/download 2"),
        Some(FileCommand::Download {
            number: 2,
            out: None
        })
    );
    assert_eq!(
        file_command("/download 3 /tmp/my file.pdf"),
        Some(FileCommand::Download {
            number: 3,
            out: Some(PathBuf::from("/tmp/my file.pdf"))
        })
    );
    assert_eq!(file_command("/download two"), None);
    assert_eq!(file_command("hello /file x"), None);
}

#[tokio::test]
async fn a_long_conversation_keeps_the_newest_in_view_and_scrolls_back() {
    let mut app = chat_with_bob().await;
    app.messages = (0..200)
        .map(|i| from_bob(&format!("message {i:03}")))
        .collect();
    let shown = screen(&mut app);
    assert!(shown.contains("Bob: message 199"), "{shown}");
    assert!(!shown.contains("message 000"));

    app.on_key(KeyEvent::from(KeyCode::PageUp)).await;
    let back = screen(&mut app);
    assert!(!back.contains("message 199"), "{back}");
    assert!(back.contains("message 166"), "the page just above: {back}");

    // Scrolled back, a new message does not move the view; it is counted below.
    app.on_event(AppEvent::Message(from_bob("message 200")))
        .await;
    let held = screen(&mut app);
    assert_eq!(
        held.lines()
            .filter(|l| l.contains("message"))
            .collect::<Vec<_>>(),
        back.lines()
            .filter(|l| l.contains("message"))
            .collect::<Vec<_>>()
    );
    assert!(held.contains("↓ 1 new"), "{held}");

    app.on_key(KeyEvent::from(KeyCode::End)).await;
    let newest = screen(&mut app);
    assert!(newest.contains("message 200"), "{newest}");
    assert!(!newest.contains("new · End"), "{newest}");

    // At the bottom, what arrives is shown at once.
    app.on_event(AppEvent::Message(from_bob("message 201")))
        .await;
    assert!(screen(&mut app).contains("message 201"));

    // PageDown from a page back returns to following.
    app.on_key(KeyEvent::from(KeyCode::PageUp)).await;
    screen(&mut app);
    app.on_key(KeyEvent::from(KeyCode::PageDown)).await;
    app.on_event(AppEvent::Message(from_bob("message 202")))
        .await;
    assert!(screen(&mut app).contains("message 202"));
}

#[tokio::test]
async fn a_long_text_wraps_and_is_shown_whole_at_the_bottom() {
    let mut app = chat_with_bob().await;
    let words: Vec<String> = (0..334).map(|i| format!("w{i:04}")).collect();
    let text = words.join(" ");
    assert!(text.len() >= 2_000, "{}", text.len());
    app.messages = (0..50)
        .map(|i| from_bob(&format!("message {i:03}")))
        .collect();
    app.messages.push(from_bob(&text));
    let shown = screen(&mut app);
    for word in &words {
        assert!(shown.contains(word.as_str()), "{word} missing:\n{shown}");
    }
    assert!(
        shown.contains("message 049"),
        "what came before fills the rest"
    );
}
