//! The web app of `sotto serve --web`, in a real headless Chromium driven through the DevTools
//! protocol (chromiumoxide): two people chat through two web apps on a localnet (with
//! replies, receipts, search, edits, reactions, deletions, an image sent, previewed, fetched
//! and served back intact, a notification while the page is hidden, and a disappearing
//! timer), and pages
//! without the token, of another site, or reached by another name (DNS rebinding) get nothing.
//! Screenshots go to `target/web-screenshots/` for a person to look at.
//!
//! Without a `chromium` on PATH the tests say so and pass, unless `CI` is set: CI installs it
//! (`.ci/run`), so there a missing browser fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::{PermissionSetting, SetPermissionParams};
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;
use sotto_testnet::TestLocalnet;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SOTTO: &str = env!("CARGO_BIN_EXE_sotto");
/// How long anything the page waits for may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(45);

/// The Chromium to drive, or `None` (with the reason printed) when the test should skip.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false");
        assert!(
            !ci,
            "no chromium on PATH; CI must have it (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium to run the web tests)");
    }
    found
}

/// A `sotto serve --web` process, killed when dropped.
struct Serve {
    child: Child,
    /// `ws://` address of the API.
    api: String,
    /// What `serve` printed to open: `http://ADDRESS/#token=TOKEN`.
    url: String,
    /// `http://ADDRESS`
    origin: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sotto(home: &Path, network: &Path, args: &[&str]) {
    let out = Command::new(SOTTO)
        .args(args)
        .arg("--home")
        .arg(home)
        .arg("--network")
        .arg(network)
        .output()
        .expect("running sotto");
    assert!(
        out.status.success(),
        "sotto {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sotto serve` with its web app at `web` (`127.0.0.1:0`: any free port).
fn serve(home: &Path, network: &Path, web: &str) -> Serve {
    let mut child = Command::new(SOTTO)
        .args(["serve", "--api", "127.0.0.1:0", "--web", web])
        .arg("--home")
        .arg(home)
        // Files stay beside the home, never in the Downloads of whoever runs the tests.
        .arg("--files")
        .arg(home.with_extension("files"))
        .arg("--network")
        .arg(network)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting sotto serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut line = || lines.next().expect("a line").expect("a readable line");
    let (api, web) = (line(), line());
    let api = api
        .strip_prefix("api ready ws://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {api:?}"))
        .to_string();
    let url = web
        .strip_prefix("web ready ")
        .unwrap_or_else(|| panic!("unexpected second line {web:?}"))
        .to_string();
    let origin = url
        .split_once("/#token=")
        .map(|(origin, _)| origin.to_string())
        .unwrap_or_else(|| panic!("no token in {url:?}"));
    Serve {
        child,
        api,
        url,
        origin,
    }
}

/// A headless Chromium with a profile of its own, closed and removed by `close`.
struct Chromium {
    browser: Browser,
    handler: JoinHandle<()>,
    profile: PathBuf,
}

impl Chromium {
    async fn launch(executable: &Path, extra: &[String]) -> Self {
        let profile =
            std::env::temp_dir().join(format!("sotto-chromium-{:016x}", rand::random::<u64>()));
        let config = BrowserConfig::builder()
            .chrome_executable(executable)
            .disable_default_args()
            .no_sandbox()
            .user_data_dir(&profile)
            .window_size(1100, 700)
            .viewport(None)
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(60))
            .args([
                "disable-gpu",
                "disable-quic",
                "no-first-run",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
            ])
            .args(extra.iter().map(String::as_str))
            .build()
            .expect("a browser configuration");
        let (browser, mut events) = within("starting chromium", Browser::launch(config)).await;
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        Self {
            browser,
            handler,
            profile,
        }
    }

    async fn open(&self, url: &str) -> Page {
        let page = within("opening a page", self.browser.new_page(url)).await;
        within("loading a page", page.wait_for_navigation()).await;
        page
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(PATIENCE, self.browser.close()).await;
        let _ = tokio::time::timeout(PATIENCE, self.browser.wait()).await;
        self.handler.abort();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What `step` gives, within `PATIENCE`: a browser that stopped answering fails the test
/// instead of holding it.
async fn within<T, E: std::fmt::Display>(
    what: &str,
    step: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(PATIENCE, step).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{what}: {error}"),
        Err(_) => panic!("{what}: no answer within {PATIENCE:?}"),
    }
}

async fn eval<T: serde::de::DeserializeOwned>(page: &Page, expression: &str) -> T {
    within(expression, page.evaluate(expression))
        .await
        .into_value()
        .unwrap_or_else(|error| panic!("the value of {expression}: {error}"))
}

/// Waits until `condition` (a JavaScript expression) is true in `page`.
async fn until(page: &Page, condition: &str) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !eval::<bool>(page, &format!("Boolean({condition})")).await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if waited.is_err() {
        let body: String = eval(page, "document.body.innerText").await;
        panic!("never true: {condition}\nthe page said:\n{body}");
    }
}

/// The element `selector` names, on a page brought to the front: a page in the background
/// is not drawn, and input sent to it waits for a frame that never comes.
async fn element(page: &Page, selector: &str) -> chromiumoxide::Element {
    within("bringing the page to the front", page.bring_to_front()).await;
    within(selector, page.find_element(selector)).await
}

async fn click(page: &Page, selector: &str) {
    let element = element(page, selector).await;
    within(selector, element.click()).await;
}

/// Clicks what `selector` names once it is there, in the page itself: for the sidebar's
/// lists, which the page draws again as events come, so an element found a moment earlier
/// may be gone by the time a click reaches it.
async fn click_listed(page: &Page, selector: &str) {
    let selector = serde_json::to_string(selector).unwrap();
    until(page, &format!("document.querySelector({selector})")).await;
    let _: bool = eval(
        page,
        &format!("(document.querySelector({selector}).click(), true)"),
    )
    .await;
}

async fn type_into(page: &Page, selector: &str, text: &str) {
    let element = element(page, selector).await;
    within(selector, element.click()).await;
    within(selector, element.type_str(text)).await;
}

async fn press_enter(page: &Page, selector: &str) {
    let element = element(page, selector).await;
    within(selector, element.press_key("Enter")).await;
}

/// Sets a field's value as if typed, for fields that start with text in them.
async fn set_value(page: &Page, selector: &str, value: &str) {
    let script = format!(
        "(() => {{ const field = document.querySelector({}); field.value = {}; \
         field.dispatchEvent(new Event('input')); return true; }})()",
        serde_json::to_string(selector).unwrap(),
        serde_json::to_string(value).unwrap()
    );
    let _: bool = eval(page, &script).await;
}

async fn screenshot(page: &Page, name: &str) {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
    std::fs::create_dir_all(&directory).expect("the screenshot directory");
    let params = chromiumoxide::page::ScreenshotParams::builder().build();
    let png = within("a screenshot", page.screenshot(params)).await;
    std::fs::write(directory.join(format!("{name}.png")), png).expect("saving a screenshot");
}

/// The text of the open conversation's messages, in order.
const MESSAGES: &str =
    "[...document.querySelectorAll('#messages li .text')].map(m => m.textContent)";

fn contains(list: &str, text: &str) -> String {
    format!("{list}.includes({})", serde_json::to_string(text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_chat_through_two_web_apps() {
    let Some(executable) = chromium() else { return };
    let net = TestLocalnet::start(Path::new(SOTTO), 5);
    let network = net.root().join("network.toml");
    let (alice_home, bob_home) = (net.root().join("alice"), net.root().join("bob"));
    sotto(&alice_home, &network, &["init", "--name", "Alice"]);
    sotto(&bob_home, &network, &["init", "--name", "Bob"]);
    let alice_serve = serve(&alice_home, &network, "127.0.0.1:0");
    let bob_serve = serve(&bob_home, &network, "127.0.0.1:0");
    let chromium = Chromium::launch(&executable, &[]).await;
    let alice = chromium.open(&alice_serve.url).await;
    let bob = chromium.open(&bob_serve.url).await;
    for page in [&alice, &bob] {
        until(page, "document.querySelector('#status.online')").await;
        let address: String = eval(page, "location.href").await;
        assert!(
            !address.contains("token"),
            "the token stays on screen: {address}"
        );
    }

    click(&alice, "#invite").await;
    until(
        &alice,
        "document.getElementById('link').textContent.startsWith('sotto://')",
    )
    .await;
    let link: String = eval(&alice, "document.getElementById('link').textContent").await;
    let qr: String = eval(&alice, "document.getElementById('qr').src").await;
    assert!(qr.starts_with("data:image/svg+xml;base64,"), "{qr}");
    until(&alice, "document.getElementById('qr').naturalWidth > 0").await;
    screenshot(&alice, "1-alice-invites").await;
    click(&alice, "#invite-dialog form button:not(#copy)").await;

    click(&bob, "#connect").await;
    type_into(&bob, "#connect-link", &link).await;
    click(&bob, "#connect-form button[type=submit]").await;
    until(
        &bob,
        "document.getElementById('title').textContent === 'Alice'",
    )
    .await;
    until(
        &alice,
        "document.querySelector('#contacts li[data-alias=Bob]')",
    )
    .await;

    // Alice has not opened the conversation: Bob's first message is counted as unread.
    type_into(&bob, "#text", "hi Alice, it's Bob").await;
    press_enter(&bob, "#text").await;
    until(&bob, &contains(MESSAGES, "hi Alice, it's Bob")).await;
    until(
        &alice,
        "document.querySelector('#contacts li[data-alias=Bob] .unread')?.textContent === '1'",
    )
    .await;
    screenshot(&alice, "2-alice-unread").await;
    click(&alice, "#contacts li[data-alias=Bob]").await;
    until(&alice, &contains(MESSAGES, "hi Alice, it's Bob")).await;
    until(&alice, "!document.querySelector('#contacts .unread')").await;

    // A reply, seen on the other side without reloading, quoting what it answers.
    click(&alice, "#messages li .reply").await;
    until(&alice, "!document.getElementById('replying').hidden").await;
    type_into(&alice, "#text", "hello Bob, good to see you here").await;
    click(&alice, "#send").await;
    until(&bob, &contains(MESSAGES, "hello Bob, good to see you here")).await;
    let quote: String = eval(
        &bob,
        "document.querySelector('#messages li:last-child .quote')?.textContent ?? ''",
    )
    .await;
    assert_eq!(quote, "hi Alice, it's Bob");
    // Bob's message got its receipt back: two marks.
    until(
        &bob,
        "document.querySelector('#messages li.mine .mark')?.textContent === '✓✓'",
    )
    .await;
    screenshot(&bob, "3-bob-conversation").await;

    // Search keeps the messages that hold the text.
    type_into(&alice, "#search", "GOOD").await;
    until(
        &alice,
        "document.getElementById('found').textContent === '1 found'",
    )
    .await;
    let shown: Vec<String> = eval(
        &alice,
        "[...document.querySelectorAll('#messages li:not(.hidden) mark')].map(m => m.textContent)",
    )
    .await;
    assert_eq!(shown, ["good"]);
    screenshot(&alice, "4-alice-search").await;
    set_value(&alice, "#search", "").await;

    // Alice edits her message; Bob sees the new text, marked edited, and reacts to it.
    click(&alice, "#messages li.mine .edit").await;
    until(
        &alice,
        "document.getElementById('replying-what').textContent === 'Editing'",
    )
    .await;
    set_value(&alice, "#text", "").await;
    type_into(&alice, "#text", "hello Bob, glad you're here").await;
    press_enter(&alice, "#text").await;
    until(&bob, &contains(MESSAGES, "hello Bob, glad you're here")).await;
    until(
        &bob,
        "document.querySelector('#messages li:last-child .meta').textContent.includes('edited')",
    )
    .await;
    click(&bob, "#messages li:last-child .react").await;
    click(
        &bob,
        "#messages li:last-child .picker button[data-emoji='👍']",
    )
    .await;
    until(
        &alice,
        "document.querySelector('#messages li.mine .reactions')?.textContent === '👍'",
    )
    .await;
    screenshot(&alice, "5-alice-edited-and-reacted-to").await;

    // Deleted for everyone: gone from Bob's page too, said so in its place.
    click(&alice, "#messages li.mine .delete").await;
    click(&alice, "#messages li.mine .delete").await;
    until(&bob, "document.querySelector('#messages li.deleted .gone')").await;
    let left: Vec<String> = eval(&bob, MESSAGES).await;
    assert!(
        !left.iter().any(|text| text.contains("glad")),
        "the deleted text stays on the other side: {left:?}"
    );
    screenshot(&bob, "6-bob-sees-the-deletion").await;

    // An image, given to Alice's page as a file dropped or picked is (the page's own
    // `sendFiles`): streamed to her sotto over HTTP, sent, shown to her with its preview; on
    // Bob's side offered, fetched with a click, shown, and served back byte for byte.
    let image = png_image(64, 48);
    let script = format!(
        "(() => {{ const bytes = Uint8Array.from(atob('{}'), c => c.charCodeAt(0)); \
         sendFiles([new File([bytes], 'photo.png', {{ type: 'image/png' }})]); return true; }})()",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &image)
    );
    let _: bool = eval(&alice, &script).await;
    until(
        &alice,
        "document.querySelector('#messages li.mine .file img.preview')?.naturalWidth === 64",
    )
    .await;
    until(
        &alice,
        "document.getElementById('uploads').children.length === 0",
    )
    .await;
    screenshot(&alice, "8-alice-sent-an-image").await;
    until(
        &bob,
        "document.querySelector('#messages li:last-child .file .download')",
    )
    .await;
    let name: String = eval(
        &bob,
        "document.querySelector('#messages li:last-child .file-name').textContent",
    )
    .await;
    assert_eq!(name, "photo.png");
    click(&bob, "#messages li:last-child .file .download").await;
    until(
        &bob,
        "document.querySelector('#messages li:last-child .file img.preview')?.naturalWidth === 64",
    )
    .await;
    until(
        &bob,
        "document.querySelector('#messages li:last-child .file a.save')",
    )
    .await;
    screenshot(&bob, "9-bob-fetched-the-image").await;
    let id: String = eval(
        &bob,
        "document.querySelector('#messages li:last-child').dataset.id",
    )
    .await;
    let token = bob_serve.url.rsplit_once("#token=").unwrap().1.to_string();
    let served = http_get(&bob_serve, &format!("/files/{id}?token={token}")).await;
    assert_eq!(
        served, image,
        "the image Bob's sotto serves is not the one sent"
    );
    let refused = http_head(
        &bob_serve,
        &format!("/files/{id}?token={}", "0".repeat(64)),
        None,
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

    // A voice message (told by its extension) gets a player on the side that has it, and a
    // Download on the other.
    let _: bool = eval(
        &alice,
        "(sendFiles([new File([new Uint8Array(3000)], 'note.ogg', { type: 'audio/ogg' })]), true)",
    )
    .await;
    until(
        &alice,
        "[...document.querySelectorAll('#messages li.mine .file')].some(f => \
         f.querySelector('.file-name').textContent === 'note.ogg' && f.querySelector('audio'))",
    )
    .await;
    until(
        &bob,
        "document.querySelector('#messages li:last-child .file-size')?.textContent.startsWith('voice')",
    )
    .await;

    // A message to Alice while her page is hidden is shown as a browser notification (the
    // permission granted through the DevTools protocol, as a person grants it once).
    let granted = SetPermissionParams::builder()
        .permission("notifications")
        .setting(PermissionSetting::Granted)
        .origin(alice_serve.origin.clone())
        .build()
        .expect("a permission");
    within("granting notifications", chromium.browser.execute(granted)).await;
    let _: bool = eval(
        &alice,
        "(() => { window.shown = []; const Real = window.Notification; \
         window.Notification = class extends Real { constructor(title, options) { \
         super(title, options); window.shown.push(title); } }; \
         Object.defineProperty(document, 'hidden', { get: () => true, configurable: true }); \
         return true; })()",
    )
    .await;
    type_into(&bob, "#text", "while you look away").await;
    press_enter(&bob, "#text").await;
    until(&alice, "window.shown.includes('Bob')").await;
    let _: bool = eval(&alice, "(delete document.hidden, true)").await;

    // Disappearing messages, set on one side, shown on the other.
    set_value(&alice, "#timer", "3600").await;
    let _: bool = eval(
        &alice,
        "(document.getElementById('timer').dispatchEvent(new Event('change')), true)",
    )
    .await;
    until(&bob, "document.getElementById('timer').value === '3600'").await;

    // Offline: the page says so when its sotto stops, and comes back by itself when it is
    // started again, with what arrived meanwhile.
    let bob_web = bob_serve.origin.trim_start_matches("http://").to_string();
    drop(bob_serve);
    until(&bob, "document.querySelector('#status.offline')").await;
    until(&bob, "!document.getElementById('problem').hidden").await;
    screenshot(&bob, "7-bob-offline").await;
    type_into(&alice, "#text", "are you back?").await;
    press_enter(&alice, "#text").await;
    let _bob_serve = serve(&bob_home, &network, &bob_web);
    until(&bob, "document.querySelector('#status.online')").await;
    until(&bob, &contains(MESSAGES, "are you back?")).await;
    until(&bob, "document.getElementById('problem').hidden").await;

    // A group: Alice makes one with Bob in it; it shows on both sides (Bob's once his device
    // answered and Alice's committed it), and each sees who wrote what.
    click(&alice, "#new-group").await;
    type_into(&alice, "#group-name", "Friends").await;
    click(&alice, "#group-pick input[value=Bob]").await;
    click(&alice, "#group-form button[type=submit]").await;
    until(
        &alice,
        "document.getElementById('title').textContent === 'Friends' \
         && !document.getElementById('members').hidden",
    )
    .await;
    until(
        &bob,
        "document.querySelector('#groups li[data-alias=Friends]')",
    )
    .await;
    until(
        &alice,
        "document.querySelector('#groups li[data-alias=Friends] .size')?.textContent.startsWith('2')",
    )
    .await;
    // Alice looks at Bob's conversation meanwhile: the group's message is counted unread.
    click_listed(&alice, "#contacts li[data-alias=Bob]").await;
    until(&alice, "document.getElementById('members').hidden").await;
    click_listed(&bob, "#groups li[data-alias=Friends]").await;
    until(
        &bob,
        "document.getElementById('title').textContent === 'Friends'",
    )
    .await;
    type_into(&bob, "#text", "hello Friends").await;
    press_enter(&bob, "#text").await;
    until(
        &alice,
        "document.querySelector('#groups li[data-alias=Friends] .unread')?.textContent === '1'",
    )
    .await;
    click_listed(&alice, "#groups li[data-alias=Friends]").await;
    until(
        &alice,
        "[...document.querySelectorAll('#messages li')].some(m => \
         m.querySelector('.sender')?.textContent === 'Bob' \
         && m.querySelector('.text').textContent === 'hello Friends')",
    )
    .await;
    type_into(&alice, "#text", "welcome, Bob").await;
    press_enter(&alice, "#text").await;
    until(
        &bob,
        "[...document.querySelectorAll('#messages li')].some(m => \
         m.querySelector('.sender')?.textContent === 'Alice' \
         && m.querySelector('.text').textContent === 'welcome, Bob')",
    )
    .await;
    screenshot(&bob, "11-bob-in-a-group").await;

    // The group's panel: its members with their roles; the owner makes Bob an admin.
    click(&alice, "#members").await;
    until(
        &alice,
        "document.querySelector('#member-list li[data-member=Bob] .role')?.value === 'member'",
    )
    .await;
    let _: bool = eval(
        &alice,
        "(() => { const role = document.querySelector('#member-list li[data-member=Bob] .role'); \
         role.value = 'admin'; role.dispatchEvent(new Event('change')); return true; })()",
    )
    .await;
    until(
        &alice,
        "document.querySelector('#member-list li[data-member=Bob] .role')?.value === 'admin' \
         && document.getElementById('members-error').hidden",
    )
    .await;
    screenshot(&alice, "12-alice-group-members").await;

    // The owner removes Bob (he is then offered to be added again) and deletes the group.
    click_listed(&alice, "#member-list li[data-member=Bob] .remove").await;
    until(
        &alice,
        "!document.querySelector('#member-list li[data-member=Bob]') \
         && [...document.getElementById('member-contact').options].some(o => o.value === 'Bob')",
    )
    .await;
    click(&alice, "#group-delete").await;
    click(&alice, "#group-delete").await;
    until(
        &alice,
        "!document.querySelector('#groups li') && !document.getElementById('members-dialog').open",
    )
    .await;
    chromium.close().await;
}

/// The status an upgrade of the web app's WebSocket with `token` and `origin` gets.
async fn upgrade_status(serve: &Serve, token: &str, origin: &str) -> u16 {
    let address = serve.origin.trim_start_matches("http://");
    let mut request = format!("ws://{address}/ws?token={token}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("the upgrade failed: {other}"),
    }
}

/// A site of someone else's on another port: every request gets one plain page.
async fn other_site() -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 2048];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut request).await;
                let page = "<!doctype html><title>another site</title><p>another site</p>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (origin, server)
}

/// The whole answer to `GET path` from the web app, naming it `host` (default: its address).
async fn http_get_raw(serve: &Serve, path: &str, host: Option<&str>) -> Vec<u8> {
    let address = serve.origin.trim_start_matches("http://");
    let host = host.unwrap_or(address);
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        PATIENCE,
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
    )
    .await
    .expect("an answer in time")
    .unwrap();
    answer
}

/// The status line and headers of `GET path` from the web app, naming it `host`.
async fn http_head(serve: &Serve, path: &str, host: Option<&str>) -> String {
    let answer = http_get_raw(serve, path, host).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The body of a `200 OK` answer to `GET path` (sent with its length, as files are).
async fn http_get(serve: &Serve, path: &str) -> Vec<u8> {
    let answer = http_get_raw(serve, path, None).await;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&answer[..end]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    answer[end + 4..].to_vec()
}

/// A `width` by `height` PNG of a colour ramp.
fn png_image(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % 256) as u8, (i / width * 5) as u8, 200])
        .collect();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("a PNG header");
        writer.write_image_data(&pixels).expect("PNG data");
    }
    out
}

/// What a `new WebSocket(url)` in `page` comes to: "open" or "refused".
async fn open_websocket(page: &Page, url: &str) -> String {
    let script = format!(
        "new Promise(done => {{ const s = new WebSocket({}); \
         s.onopen = () => {{ s.close(); done('open'); }}; s.onerror = () => done('refused'); }})",
        serde_json::to_string(url).unwrap()
    );
    eval(page, &script).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_the_token_or_from_elsewhere_get_nothing() {
    let Some(executable) = chromium() else { return };
    let net = TestLocalnet::start(Path::new(SOTTO), 5);
    let network = net.root().join("network.toml");
    let home = net.root().join("alice");
    sotto(&home, &network, &["init", "--name", "Alice"]);
    let served = serve(&home, &network, "127.0.0.1:0");
    let token = served.url.rsplit_once("#token=").unwrap().1.to_string();
    let port = served.origin.rsplit_once(':').unwrap().1.to_string();
    // `rebind.test` resolves to this machine, as a site's name does after DNS rebinding.
    let chromium = Chromium::launch(
        &executable,
        &["host-resolver-rules=MAP rebind.test 127.0.0.1".to_string()],
    )
    .await;

    let tokenless = chromium.open(&format!("{}/", served.origin)).await;
    until(&tokenless, "!document.getElementById('problem').hidden").await;
    let wrong = chromium
        .open(&format!("{}/#token={}", served.origin, "0".repeat(64)))
        .await;
    until(&wrong, "!document.getElementById('problem').hidden").await;
    for page in [&tokenless, &wrong] {
        let shown: bool = eval(page, "document.getElementById('app').hidden").await;
        assert!(shown, "the app is shown without a working token");
        let contacts: u32 = eval(page, "document.querySelectorAll('#contacts li').length").await;
        assert_eq!(contacts, 0);
    }
    screenshot(&wrong, "10-wrong-token").await;
    assert_eq!(upgrade_status(&served, "", &served.origin).await, 401);
    assert_eq!(
        upgrade_status(&served, &"0".repeat(64), &served.origin).await,
        401
    );
    assert_eq!(upgrade_status(&served, &token, &served.origin).await, 101);
    let api = sotto_api::ApiClient::connect(&served.api, &"0".repeat(64)).await;
    assert!(matches!(api, Err(sotto_api::ApiError::Unauthorized)));

    // Another site's page, token and all, cannot open the WebSocket; the app's own page can.
    let socket = format!(
        "{}/ws?token={token}",
        served.origin.replace("http://", "ws://")
    );
    let (elsewhere, other) = other_site().await;
    let foreign = chromium.open(&format!("{elsewhere}/")).await;
    assert_eq!(open_websocket(&foreign, &socket).await, "refused");
    assert_eq!(upgrade_status(&served, &token, &elsewhere).await, 403);
    let own = chromium.open(&served.url).await;
    until(&own, "document.querySelector('#status.online')").await;
    assert_eq!(open_websocket(&own, &socket).await, "open");

    // Every answer carries a policy that lets the page load its own files only.
    let head = http_head(&served, "/", Some(&format!("127.0.0.1:{port}"))).await;
    for line in [
        "HTTP/1.1 200 OK",
        "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self';",
        "x-frame-options: DENY",
        "referrer-policy: no-referrer",
    ] {
        assert!(head.contains(line), "{line} missing from\n{head}");
    }
    assert!(!head.contains("unsafe-"), "{head}");
    let misnamed = http_head(&served, "/", Some(&format!("rebind.test:{port}"))).await;
    assert!(misnamed.starts_with("HTTP/1.1 421"), "{misnamed}");

    // A connection that never finishes its request's header is closed (10 s), not held.
    let mut stalled = tokio::net::TcpStream::connect(served.origin.trim_start_matches("http://"))
        .await
        .unwrap();
    stalled.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut buffer = [0u8; 256];
    let closed = tokio::time::timeout(
        Duration::from_secs(25),
        tokio::io::AsyncReadExt::read(&mut stalled, &mut buffer),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(_) | Err(_))),
        "a connection that never finishes its header stays open: {closed:?}"
    );

    // A site whose name now points here is refused before it reads anything.
    let rebound = chromium.open(&format!("http://rebind.test:{port}/")).await;
    let body: String = eval(&rebound, "document.body.innerText").await;
    assert!(
        body.contains("open the address sotto serve printed"),
        "{body}"
    );
    let script: bool = eval(&rebound, "typeof state !== 'undefined'").await;
    assert!(!script, "the app ran under another name");
    other.abort();
    chromium.close().await;
}
