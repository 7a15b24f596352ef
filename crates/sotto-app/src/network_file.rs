//! Reading the network file: the signed list of relays a device chooses its paths from.

use std::path::Path;

use sotto_onion::directory::{Directory, NetworkFile};

use crate::error::AppError;

/// The network in `file`, its signatures checked against the authorities it names (whether
/// those are the ones the device trusts is `Device::open`'s check).
pub fn read_network_file(file: &Path) -> Result<Directory, AppError> {
    let text = std::fs::read_to_string(file).map_err(|source| AppError::ReadNetworkFile {
        path: file.to_path_buf(),
        source,
    })?;
    NetworkFile::parse(&text).map_err(|source| AppError::InvalidNetworkFile {
        path: file.to_path_buf(),
        source,
    })
}
