//! Reading a network file (`network.toml`), as `sotto localnet` writes it.

use std::path::Path;

use anyhow::Context;
use sotto_onion::directory::{Directory, NetworkFile};

pub fn load(file: &Path) -> anyhow::Result<Directory> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the network file {}", file.display()))?;
    NetworkFile::parse(&text)
        .with_context(|| format!("{} is not a valid network file", file.display()))
}
