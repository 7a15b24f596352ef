//! Setting up a person's home: a display name, and optionally the network it belongs to.

use std::path::Path;

use sotto_client::{Device, Unlock};
use sotto_onion::directory::Authorities;

use crate::error::AppError;
use crate::home::Home;
use crate::network_file::read_network_file;

/// Makes the profile in `home` (the directory too, if new), its store locked as `unlock`
/// says. With `trusted`, those authorities are pinned before any network file is read; with
/// `network`, that file is remembered and its authorities pinned (it must be signed by
/// `trusted`, if given) and the device picks its gateway now.
pub fn init(
    home: &Home,
    name: &str,
    unlock: &Unlock,
    trusted: Option<&Authorities>,
    network: Option<&Path>,
) -> Result<(), AppError> {
    // The network file is read (its signature checked) before anything is made: the device
    // belongs to the network it was set up with.
    let directory = network.map(read_network_file).transpose()?;
    if let (Some(directory), Some(trusted)) = (&directory, trusted) {
        if !trusted.approve(&directory.signers()) {
            return Err(AppError::OtherNetwork {
                trusted: trusted.to_string(),
            });
        }
    }
    home.make()?;
    let _lock = home.lock()?;
    sotto_client::init(home.dir(), name, unlock)?;
    if let Some(trusted) = trusted {
        sotto_client::pin_authority(home.dir(), unlock, trusted)?;
    }
    if let Some(directory) = directory {
        home.network_file(network)?;
        Device::open(home.dir(), unlock, directory)?;
    }
    Ok(())
}
