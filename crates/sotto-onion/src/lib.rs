//! The onion layer of sotto, without I/O: fixed-size Sphinx packets built and processed with
//! the `sphinx-packet` crate, single-use reply blocks (SURBs), the network directory and path
//! choice, fragmentation of what does not fit one packet, and the replay-tag cache. Bytes and
//! time go in; bytes and decisions come out. Work in progress: the relay roles and the client
//! transport that use it come next (see the issue notes).

pub mod directory;
pub mod fragment;
pub mod packet;
pub mod replay;
pub mod request;
