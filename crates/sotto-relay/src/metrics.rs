//! Relay metrics, kept and encoded by `prometheus-client` (OpenMetrics text). Only counts:
//! nothing here can name a mailbox, a capability or a client. Every labelled series exists
//! from the start at 0, so a dashboard sees a kind before it first happens.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sotto_proto::{Command, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::admission::Refused as ConnectionRefused;
use crate::host::{Handled, HostStats, Limit};
use crate::onion::{Direction, Drop as OnionDrop, Role};

/// What the metrics page is, for the HTTP answer: the Prometheus text format, which every
/// Prometheus and `promtool check metrics` read.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Label = [(&'static str, &'static str); 1];
type Counters = Family<Label, Counter>;

pub struct Metrics {
    registry: Registry,
    commands: Counters,
    errors: Counters,
    refusals: Counters,
    mailboxes: Gauge,
    messages: Gauge,
    links: Gauge,
    files: Gauge,
    chunks: Gauge,
    stored_bytes: Gauge,
    remembered: Gauge,
    subscriptions: Gauge,
    connections: Gauge,
    connections_refused: Counters,
    busy_answers: Counter,
    replay_filter_bytes: Gauge,
    onion_packets: Family<[(&'static str, &'static str); 2], Counter>,
    pushes: Counter,
    onion_drops: Counters,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let mailboxes = gauge("sotto_mailboxes", "Mailboxes held by this host.");
        let messages = gauge(
            "sotto_messages_stored",
            "Messages stored and not yet acknowledged by every reader",
        );
        let links = gauge("sotto_links", "Link data blobs held.");
        let files = gauge("sotto_files", "Files held by this host.");
        let chunks = gauge(
            "sotto_chunks_stored",
            "File chunks stored and not yet deleted.",
        );
        let stored_bytes = gauge(
            "sotto_stored_bytes",
            "Bytes of messages and link data held (what disk_budget_bytes bounds)",
        );
        let remembered = gauge(
            "sotto_remembered_answers",
            "Answers remembered for the replay window",
        );
        let subscriptions = gauge("sotto_subscriptions", "Readers subscribed for pushes.");
        let connections = gauge("sotto_connections", "Open client connections.");
        let replay_filter_bytes = gauge(
            "sotto_replay_filter_bytes",
            "Memory of the replay filters of the live onion keys",
        );
        let mut counters =
            |name: &str, help: &str, label: &'static str, values: &[&'static str]| {
                let family = Counters::default();
                for value in values {
                    let _ = family.get_or_create(&[(label, *value)]);
                }
                registry.register(name, help, family.clone());
                family
            };
        let commands = counters(
            "sotto_commands",
            "Mailbox commands handled, by kind",
            "kind",
            &Command::NAMES,
        );
        let error_names: Vec<&'static str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        let errors = counters(
            "sotto_errors",
            "Error answers, by kind",
            "kind",
            &error_names,
        );
        let limit_names: Vec<&'static str> = Limit::ALL.iter().map(|l| l.name()).collect();
        let refusals = counters(
            "sotto_limit_refusals",
            "Requests, reply blocks and pushes refused at a limit, by limit",
            "limit",
            &limit_names,
        );
        let refused_names: Vec<&'static str> =
            ConnectionRefused::ALL.iter().map(|r| r.name()).collect();
        let connections_refused = counters(
            "sotto_connections_refused",
            "Connections refused at a limit, by kind",
            "kind",
            &refused_names,
        );
        let drop_names: Vec<&'static str> = OnionDrop::ALL.iter().map(|d| d.name()).collect();
        let onion_drops = counters(
            "sotto_onion_drops",
            "Onion packets dropped, by reason",
            "kind",
            &drop_names,
        );
        let onion_packets = Family::<[(&'static str, &'static str); 2], Counter>::default();
        for role in Role::ALL {
            for direction in Direction::ALL {
                let _ = onion_packets
                    .get_or_create(&[("role", role.name()), ("direction", direction.name())]);
            }
        }
        registry.register(
            "sotto_onion_packets",
            "Onion packets into and out of each role this relay plays",
            onion_packets.clone(),
        );
        let busy_answers = Counter::default();
        registry.register(
            "sotto_busy_answers",
            "Requests answered Busy because the host queue would hold them too long",
            busy_answers.clone(),
        );
        let pushes = Counter::default();
        registry.register(
            "sotto_onion_pushes",
            "Messages pushed to readers through their reply blocks",
            pushes.clone(),
        );
        Self {
            registry,
            commands,
            errors,
            refusals,
            mailboxes,
            messages,
            links,
            files,
            chunks,
            stored_bytes,
            remembered,
            subscriptions,
            connections,
            connections_refused,
            busy_answers,
            replay_filter_bytes,
            onion_packets,
            pushes,
            onion_drops,
        }
    }
}

fn set(gauge: &Gauge, value: u64) {
    gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
}

impl Metrics {
    pub fn record(&self, handled: &Handled) {
        for part in &handled.batched {
            self.record(part);
        }
        if let Some(name) = handled.command {
            self.commands.get_or_create(&[("kind", name)]).inc();
        }
        if let Some(error) = handled.error {
            self.errors.get_or_create(&[("kind", error.name())]).inc();
        }
        if let Some(limit) = handled.limit {
            self.refused(limit);
        }
    }

    /// Counts a request, reply block or push refused because `limit` was reached.
    pub fn refused(&self, limit: Limit) {
        self.refusals
            .get_or_create(&[("limit", limit.name())])
            .inc();
    }

    pub fn set_subscriptions(&self, count: usize) {
        set(&self.subscriptions, count as u64);
    }

    pub fn set_stats(&self, stats: HostStats) {
        set(&self.mailboxes, stats.mailboxes);
        set(&self.messages, stats.messages);
        set(&self.links, stats.links);
        set(&self.stored_bytes, stats.bytes);
        set(&self.remembered, stats.remembered);
        set(&self.files, stats.files);
        set(&self.chunks, stats.chunks);
    }

    pub fn onion_packet(&self, role: Role, direction: Direction) {
        self.onion_packets
            .get_or_create(&[("role", role.name()), ("direction", direction.name())])
            .inc();
    }

    pub fn set_replay_filter_bytes(&self, bytes: usize) {
        set(
            &self.replay_filter_bytes,
            u64::try_from(bytes).unwrap_or(u64::MAX),
        );
    }

    pub fn busy_answer(&self) {
        self.busy_answers.inc();
    }

    pub fn pushed(&self) {
        self.pushes.inc();
    }

    pub fn onion_drop(&self, reason: OnionDrop) {
        self.onion_drops
            .get_or_create(&[("kind", reason.name())])
            .inc();
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    pub fn connection_refused(&self, why: ConnectionRefused) {
        self.connections_refused
            .get_or_create(&[("kind", why.name())])
            .inc();
    }

    /// The metrics page, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut open_metrics = String::new();
        // Writing to a String cannot fail; an encoder error would leave the page short.
        if let Err(error) = encode(&mut open_metrics, &self.registry) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        prometheus_text(&open_metrics)
    }
}

/// `prometheus-client` writes OpenMetrics, where a counter family `x` has samples `x_total`
/// and the page ends with `# EOF`. The Prometheus text format names the family as its samples
/// and has no end marker; otherwise the two are the same.
fn prometheus_text(open_metrics: &str) -> String {
    let counters: Vec<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines().filter(|line| *line != "# EOF") {
        let family = ["# HELP ", "# TYPE "].iter().find_map(|keyword| {
            let rest = line.strip_prefix(keyword)?;
            let name = rest.split(' ').next()?;
            counters
                .contains(&name)
                .then(|| format!("{keyword}{name}_total{}", &rest[name.len()..]))
        });
        out.push_str(family.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Answers every HTTP request on the listener with the metrics page.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            // Any request gets the page; read the whole request first so closing is clean.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), read_request(&mut stream))
                    .await;
            let body = metrics.render();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {CONTENT_TYPE}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Reads until the blank line that ends an HTTP request head (or 8 KiB, or the peer's close).
async fn read_request(stream: &mut tokio::net::TcpStream) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_from_the_start() {
        let text = Metrics::default().render();
        for name in Command::NAMES {
            assert!(text.contains(&format!("sotto_commands_total{{kind=\"{name}\"}} 0")));
        }
        assert!(text.contains("sotto_errors_total{kind=\"quota\"} 0"));
        assert!(text.contains("sotto_mailboxes 0"));
        assert!(text.contains("sotto_onion_packets_total{role=\"mix\",direction=\"out\"} 0"));
        assert!(text.contains("sotto_onion_pushes_total 0"));
        for limit in Limit::ALL {
            let name = limit.name();
            assert!(text.contains(&format!("sotto_limit_refusals_total{{limit=\"{name}\"}} 0")));
        }
        assert!(text.contains("sotto_stored_bytes 0"));
        assert!(text.contains("# TYPE sotto_commands_total counter\n"));
        assert!(!text.contains("# EOF"));
    }

    /// `promtool check metrics` (from Prometheus; `.ci/run` installs it) finds nothing wrong
    /// with the page. Skipped, saying so, where promtool is not installed.
    #[test]
    fn promtool_finds_the_page_sound() {
        use std::io::Write as _;
        let metrics = Metrics::default();
        metrics.refused(Limit::Mailboxes);
        metrics.connection_opened();
        let page = metrics.render();
        let child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("promtool is not installed; skipping the check of the metrics page");
            return;
        };
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(page.as_bytes())
            .expect("page written");
        let output = child.wait_with_output().expect("promtool ran");
        assert!(
            output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
            "promtool check metrics:\n{}{}\n{page}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
