//! Property tests of every codec: what is sealed opens to the same value, and nothing a decoder
//! is fed (truncated, flipped or random bytes) makes it panic or accept a forgery.
//!
//! The submodules live in `properties/` and are named by path, so cargo does not build each as a
//! test target of its own.

#[path = "properties/strategies.rs"]
mod strategies;

#[path = "properties/round_trip.rs"]
mod round_trip;

#[path = "properties/rejection.rs"]
mod rejection;
