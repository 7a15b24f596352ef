//! Relay metrics in the Prometheus text format. Only counts: nothing here can name a mailbox,
//! a capability or a client.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sotto_proto::{Command, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::host::{Handled, HostStats};
use crate::onion::{Direction, Drop as OnionDrop, Role};

#[derive(Default)]
pub struct Metrics {
    commands: [AtomicU64; Command::NAMES.len()],
    errors: [AtomicU64; ErrorCode::ALL.len()],
    mailboxes: AtomicU64,
    messages: AtomicU64,
    links: AtomicU64,
    files: AtomicU64,
    chunks: AtomicU64,
    connections: AtomicU64,
    onion_packets: [[AtomicU64; Direction::ALL.len()]; Role::ALL.len()],
    pushes: AtomicU64,
    onion_drops: [AtomicU64; OnionDrop::ALL.len()],
}

impl Metrics {
    pub fn record(&self, handled: &Handled) {
        for part in &handled.batched {
            self.record(part);
        }
        if let Some(index) = handled
            .command
            .and_then(|name| Command::NAMES.iter().position(|n| *n == name))
        {
            self.commands[index].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(index) = handled
            .error
            .and_then(|e| ErrorCode::ALL.iter().position(|c| *c == e))
        {
            self.errors[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn set_stats(&self, stats: HostStats) {
        self.mailboxes.store(stats.mailboxes, Ordering::Relaxed);
        self.messages.store(stats.messages, Ordering::Relaxed);
        self.links.store(stats.links, Ordering::Relaxed);
        self.files.store(stats.files, Ordering::Relaxed);
        self.chunks.store(stats.chunks, Ordering::Relaxed);
    }

    pub fn onion_packet(&self, role: Role, direction: Direction) {
        let role = Role::ALL.iter().position(|r| *r == role);
        let direction = Direction::ALL.iter().position(|d| *d == direction);
        if let (Some(role), Some(direction)) = (role, direction) {
            self.onion_packets[role][direction].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn pushed(&self) {
        self.pushes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn onion_drop(&self, reason: OnionDrop) {
        if let Some(index) = OnionDrop::ALL.iter().position(|d| *d == reason) {
            self.onion_drops[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauges = [
            (
                "sotto_mailboxes",
                "Mailboxes held by this host.",
                &self.mailboxes,
            ),
            (
                "sotto_messages_stored",
                "Messages stored and not yet acknowledged by every reader.",
                &self.messages,
            ),
            ("sotto_links", "Link data blobs held.", &self.links),
            ("sotto_files", "Files held by this host.", &self.files),
            (
                "sotto_chunks_stored",
                "File chunks stored and not yet deleted.",
                &self.chunks,
            ),
            (
                "sotto_connections",
                "Open client connections.",
                &self.connections,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let commands = Command::NAMES.iter().copied().zip(&self.commands);
        counter_family(
            &mut out,
            "sotto_commands_total",
            "Mailbox commands handled, by kind.",
            commands,
        );
        let errors = ErrorCode::ALL
            .iter()
            .map(|code| code.name())
            .zip(&self.errors);
        counter_family(
            &mut out,
            "sotto_errors_total",
            "Error answers, by kind.",
            errors,
        );
        let name = "sotto_onion_packets_total";
        let _ = writeln!(
            out,
            "# HELP {name} Onion packets into and out of each role this relay plays.\n\
             # TYPE {name} counter"
        );
        for (role, counts) in Role::ALL.iter().zip(&self.onion_packets) {
            for (direction, count) in Direction::ALL.iter().zip(counts) {
                let _ = writeln!(
                    out,
                    "{name}{{role=\"{}\",direction=\"{}\"}} {}",
                    role.name(),
                    direction.name(),
                    count.load(Ordering::Relaxed)
                );
            }
        }
        let name = "sotto_onion_pushes_total";
        let _ = writeln!(
            out,
            "# HELP {name} Messages pushed to readers through their reply blocks.\n\
             # TYPE {name} counter\n{name} {}",
            self.pushes.load(Ordering::Relaxed)
        );
        let drops = OnionDrop::ALL
            .iter()
            .map(|d| d.name())
            .zip(&self.onion_drops);
        let help = "Onion packets dropped, by reason.";
        counter_family(&mut out, "sotto_onion_drops_total", help, drops);
        out
    }
}

fn counter_family<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (&'a str, &'a AtomicU64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (kind, count) in rows {
        let _ = writeln!(
            out,
            "{name}{{kind=\"{kind}\"}} {}",
            count.load(Ordering::Relaxed)
        );
    }
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
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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
    }
}
