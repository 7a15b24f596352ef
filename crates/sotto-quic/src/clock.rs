/// Seconds since the Unix epoch by this machine's clock: what requests are stamped with and
/// onion-key epochs are counted from. A clock set before 1970 reads 0, which the host then
/// refuses as stale rather than this panicking. Sans-IO code takes the time as an argument
/// instead of calling this.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
