//! How long a connection lives without traffic, for every connection a client or a relay opens.

use std::sync::Arc;
use std::time::Duration;

/// A relay that restarted answers the next packet of an old connection with a stateless
/// reset, which closes it; until then whatever is sent on it is lost. Keep-alives this often
/// find such a connection within a second, before traffic does (the scenario test measured
/// sends stalling 30 s and more after a relay restart with 10 s). The cost is one small packet
/// a second per connection; phones will want a longer interval and a wake-up push.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);

/// A connection silent this long is dead. It must be short: when a relay restarts, a peer
/// that sends on a connection the relay opened (as client, with a connection id that carries
/// no reset token) gets no usable stateless reset, and loses what it sends until the idle
/// timeout closes the connection (quinn's default of 30 s cost every restart 30 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The transport settings of a connection this side opens. Only the opening side sends
/// keep-alives: a relay answering a thousand clients need not double their traffic, and the
/// idle timeout both sides end up with is the shorter of their two.
pub(crate) fn opening_transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    // In milliseconds, as QUIC counts it; a u32 of them always fits the variable-length integer.
    let idle_ms = u32::try_from(IDLE_TIMEOUT.as_millis()).unwrap_or(u32::MAX);
    transport.max_idle_timeout(Some(quinn::VarInt::from_u32(idle_ms).into()));
    Arc::new(transport)
}
