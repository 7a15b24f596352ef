//! The device against an in-memory network: real mailbox hosts (`sotto_relay::host::Host`),
//! tokio's paused clock, seeded faults, and no processes, so every `Device` operation and
//! every fault the network can do to it is tested in milliseconds. What arti's `tor-rtmock`
//! is to Tor; the suites with real relay processes (`sotto-cli/tests`) keep checking the
//! onion network itself.

mod catch_up;
mod faults;
mod link;
mod network;
mod people;

mod cancel;
mod changes;
mod disk_full;
mod files;
mod groups;
mod media;
mod operations;
mod regressions;
mod subscriptions;
mod transfers;
mod under_faults;
mod vouchers;
