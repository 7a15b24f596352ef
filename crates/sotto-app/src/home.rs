//! A person's home directory and what lives in it: the encrypted store, the record of where
//! its key is and the key file (`sotto_client` keeps those, and makes the directory and
//! everything in it its owner's only whenever it opens the store), the network file's
//! remembered path, the API token, and the lock that keeps a second sotto out.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::error::AppError;
use crate::lock::HomeLock;

/// Remembers the network file's path, not its content: the network rewrites the file as its
/// keys rotate.
const NETWORK_PATH_FILE: &str = "network-path";
/// Where `sotto serve` keeps the token API clients present (`sotto_api::TOKEN_FILE` names it
/// for clients, which do not link this crate).
const API_TOKEN_FILE: &str = "api-token";
const LOCK_FILE: &str = "lock";
/// The directory's mode at creation; the umask can only take bits away.
const DIRECTORY_MODE: u32 = 0o700;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> PathBuf {
        sotto_client::database_path(&self.dir)
    }

    /// Where the store's key is kept when neither the OS keyring nor a passphrase holds it
    /// (`sotto_client::Unlock`; `HOME/store.unlock` says which).
    pub fn key_file(&self) -> PathBuf {
        self.dir.join(sotto_client::KEY_FILE)
    }

    pub fn network_path(&self) -> PathBuf {
        self.dir.join(NETWORK_PATH_FILE)
    }

    pub fn api_token(&self) -> PathBuf {
        self.dir.join(API_TOKEN_FILE)
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Whether `init` made a profile here.
    pub fn is_initialized(&self) -> bool {
        self.store().exists()
    }

    /// Takes the home for this process (see `lock`).
    pub fn lock(&self) -> Result<HomeLock, AppError> {
        HomeLock::take(&self.lock_file(), &self.dir)
    }

    /// Makes the directory if it is new, for `init`.
    pub(crate) fn make(&self) -> Result<(), AppError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIRECTORY_MODE)
            .create(&self.dir)
            .map_err(|source| AppError::MakeHome {
                path: self.dir.clone(),
                source,
            })
    }

    /// The network file to use: `given` (made absolute and remembered here, if the home
    /// exists), else the one remembered. Call it holding the lock: it may write.
    pub fn network_file(&self, given: Option<&Path>) -> Result<PathBuf, AppError> {
        let remembered = self.network_path();
        if let Some(given) = given {
            let absolute =
                std::path::absolute(given).map_err(|source| AppError::ResolveNetworkFile {
                    path: given.to_path_buf(),
                    source,
                })?;
            if self.dir.exists() {
                sotto_quic::write_private(
                    &remembered,
                    absolute.as_os_str().as_encoded_bytes(),
                    sotto_quic::Placement::Replace,
                )
                .map_err(|source| AppError::RememberNetworkFile {
                    path: remembered.clone(),
                    source,
                })?;
            }
            return Ok(absolute);
        }
        match std::fs::read(&remembered) {
            Ok(bytes) => Ok(PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())),
            Err(_) => Err(AppError::WhichNetwork {
                home: self.dir.clone(),
            }),
        }
    }
}
