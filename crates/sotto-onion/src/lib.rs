//! The onion layer of sotto, without I/O: fixed-size Sphinx packets built and processed with
//! the `sphinx-packet` crate, single-use reply blocks (SURBs), the network directory and path
//! choice, and the replay-tag cache. Bytes and time go in; bytes and decisions come out; the
//! relay's onion roles and the client's onion transport are the I/O around it.

pub mod directory;
pub mod packet;
pub mod replay;
pub mod request;
