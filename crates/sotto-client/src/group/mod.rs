//! Groups: one MLS group of member devices (same ciphersuite and settings as a one-to-one
//! conversation) over one group mailbox, which every member reads with its own reader. A
//! group is stored as a conversation marked a group, so sending, reading, catching up and
//! pushes are the conversation's; what is a group's own is here: its roster in the MLS
//! context (`roster`), the rules every member enforces (`rules`, `admit`), founding and
//! joining (`start`) and the commits of owners and admins (`commit`). `device` drives the
//! network.

pub(crate) mod admit;
pub mod commit;
pub(crate) mod invitation;
pub(crate) mod roster;
pub(crate) mod rules;
pub mod start;

pub use admit::Sender;
pub use roster::roster;

#[cfg(test)]
mod tests;
