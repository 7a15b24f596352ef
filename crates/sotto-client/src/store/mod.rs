//! The client's SQLite database: profile, invitations, conversations, messages, the outbox, and
//! every MLS group's state (openmls's own tables, in the same file), so one transaction covers
//! an MLS state change and what the device records about it. The file is encrypted with
//! SQLCipher and readable by its owner only.

mod changes;
mod download_settings;
pub(crate) mod encrypt;
mod files;
mod groups;
mod key;
mod receipts;
mod records;
pub(crate) mod rekey;
mod rows;
mod schema;
mod text_parts;
mod wallet;

use std::path::Path;

use openmls::prelude::OpenMlsProvider;
use openmls_libcrux_crypto::CryptoProvider;
use openmls_sqlite_storage::{Codec, SqliteStorageProvider};
use rusqlite::{Connection, OptionalExtension};
use sotto_proto::Fingerprint;
use thiserror::Error;

pub use download_settings::{DownloadSettings, DEFAULT_AUTO_DOWNLOAD_MAX};
pub use files::{FileRow, FileState, FileSummary, MessageFile};
pub use groups::GroupInvite;
pub use key::StoreKey;
pub use records::Records;
pub use rows::{Conversation, Invitation, OutboxEntry, StoredMessage};
pub use text_parts::TextParts;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the client database failed")]
    Sql(#[from] rusqlite::Error),
    #[error("the client database's MLS tables cannot be prepared: {0}")]
    Migrate(String),
    #[error("the client database is damaged: {0}")]
    Damaged(&'static str),
    #[error("the crypto provider is unavailable: {0}")]
    Crypto(String),
    #[error("the passphrase does not open this home's store")]
    WrongPassphrase,
    #[error("the key in the key file does not open this home's store")]
    WrongKey,
    #[error(
        "this home's store is locked by a passphrase: give it with --passphrase-file FILE or \
         SOTTO_PASSPHRASE"
    )]
    PassphraseNeeded,
    #[error("the OS keyring cannot be used: {0}")]
    Keyring(String),
    #[error("the OS keyring has lost this home's key (its entry is gone)")]
    KeyringEntryMissing,
    #[error("this home's key file ({0}) is missing")]
    KeyFileMissing(String),
    #[error("this home's store is not locked by a passphrase")]
    NoPassphrase,
    #[error("this home's store is already unlocked by a key it keeps")]
    AlreadyKept,
    #[error("an empty passphrase would leave the store unencrypted")]
    EmptyPassphrase,
    #[error(
        "another program has this store open; stop it (sotto serve, sotto chat) and try again"
    )]
    InUse,
    #[error("cannot use {path}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn file(path: &Path, source: std::io::Error) -> Self {
        Self::File {
            path: path.display().to_string(),
            source,
        }
    }
}

/// How openmls's records are serialized in its tables. JSON is what openmls tests its SQLite
/// storage with; postcard fails to read some records back.
#[derive(Default)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    type Error = serde_json::Error;

    fn to_vec<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Self::Error> {
        serde_json::to_vec(value)
    }

    fn from_slice<T: serde::de::DeserializeOwned>(slice: &[u8]) -> Result<T, Self::Error> {
        serde_json::from_slice(slice)
    }
}

pub type MlsStorage<'a> = SqliteStorageProvider<JsonCodec, &'a Connection>;

/// The openmls provider over this store: libcrux for crypto and randomness, the database for
/// state. Borrowed per operation, so the store itself stays `Send`.
pub struct Provider<'a> {
    crypto: &'a CryptoProvider,
    storage: MlsStorage<'a>,
}

impl<'a> OpenMlsProvider for Provider<'a> {
    type CryptoProvider = CryptoProvider;
    type RandProvider = CryptoProvider;
    type StorageProvider = MlsStorage<'a>;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        self.crypto
    }
}

pub struct Store {
    conn: Connection,
    crypto: CryptoProvider,
    /// The write-ahead log, which [`make_durable`](Store::make_durable) syncs (none in memory).
    wal: Option<std::path::PathBuf>,
}

/// What the device knows about itself.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub gateway: Option<Fingerprint>,
    /// The second guard: where the device enters to reach mailboxes its gateway hosts.
    pub second_gateway: Option<Fingerprint>,
    /// The network authorities this device trusts, as `Authorities::to_bytes` wrote them
    /// (see `Device::open`).
    pub authority: Option<Vec<u8>>,
}

fn wal_path(database: &Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    std::path::PathBuf::from(name)
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Store {
    /// Opens (creating if needed) the database at `path` with `key` and brings its schema up to
    /// date. A database from before encryption is encrypted under `key` first.
    pub fn open(path: &Path, key: &StoreKey) -> Result<Self, StoreError> {
        if encrypt::contents(path)? == encrypt::Contents::Plaintext {
            encrypt::in_place(path, key)?;
        }
        crate::owner_only::file(path).map_err(|error| StoreError::file(path, error))?;
        let conn = Connection::open(path)?;
        key::unlock(&conn, key)?;
        Self::with_connection(conn, Some(wal_path(path)))
    }

    /// A store as sotto wrote them before encryption, to test taking one over.
    #[cfg(test)]
    pub(crate) fn open_unencrypted(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(Connection::open(path)?, Some(wal_path(path)))
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory()?, None)
    }

    /// `synchronous = NORMAL`: a commit survives this process crashing at once, and power loss
    /// from the next [`make_durable`](Store::make_durable) on, which the device calls before
    /// the network acts on anything it committed (an acknowledgement deletes what it applied
    /// at the host; a written ciphertext spends the key generation it recorded). So a received
    /// message is shown without waiting for the disk, and one fsync covers applying it and
    /// sealing the receipt.
    fn with_connection(
        mut conn: Connection,
        wal: Option<std::path::PathBuf>,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
        )?;
        SqliteStorageProvider::<JsonCodec, &mut Connection>::new(&mut conn)
            .run_migrations()
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        migrate(&mut conn)?;
        let crypto = CryptoProvider::new().map_err(|e| StoreError::Crypto(format!("{e:?}")))?;
        Ok(Self { conn, crypto, wal })
    }

    /// Makes everything committed so far survive power loss: syncs the write-ahead log (a
    /// checkpoint syncs on its own, so a log that is gone has nothing unsynced).
    pub fn make_durable(&self) -> Result<(), StoreError> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        match std::fs::File::open(wal) {
            Ok(log) => log
                .sync_data()
                .map_err(|error| StoreError::file(wal, error)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StoreError::file(wal, error)),
        }
    }

    pub fn provider(&self) -> Provider<'_> {
        Provider {
            crypto: &self.crypto,
            storage: SqliteStorageProvider::new(&self.conn),
        }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one transaction: everything it stored, MLS state included, lands together
    /// or not at all.
    pub fn transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        match f(self) {
            Ok(value) => {
                self.conn
                    .execute_batch("COMMIT")
                    .map_err(StoreError::from)?;
                Ok(value)
            }
            Err(error) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    pub fn profile(&self) -> Result<Option<Profile>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT name, gateway, authority, second_gateway FROM profile WHERE only = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<Vec<u8>>>(1)?,
                        row.get::<_, Option<Vec<u8>>>(2)?,
                        row.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )
            .optional()?;
        let relay = |bytes: Option<Vec<u8>>, what| {
            bytes
                .map(|b| rows::array(b, what).map(Fingerprint::from_bytes))
                .transpose()
        };
        row.map(|(name, gateway, authority, second_gateway)| {
            Ok(Profile {
                name,
                gateway: relay(gateway, "gateway")?,
                second_gateway: relay(second_gateway, "second gateway")?,
                authority,
            })
        })
        .transpose()
    }

    pub fn set_authority(&self, authority: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE profile SET authority = ?1 WHERE only = 1",
            [authority],
        )?;
        Ok(())
    }

    pub fn create_profile(&self, name: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO profile (only, name, created_at) VALUES (1, ?1, ?2)",
            rusqlite::params![name, now_ms() as i64],
        )?;
        Ok(())
    }

    pub fn set_gateway(&self, gateway: &Fingerprint) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE profile SET gateway = ?1 WHERE only = 1",
            [gateway.as_bytes().as_slice()],
        )?;
        Ok(())
    }

    /// The highest serial of a network file this device took (0 before any had one).
    pub fn network_serial(&self) -> Result<u64, StoreError> {
        let serial: i64 = self.conn.query_row(
            "SELECT network_serial FROM profile WHERE only = 1",
            [],
            |row| row.get(0),
        )?;
        u64::try_from(serial).map_err(|_| StoreError::Damaged("network serial"))
    }

    pub fn set_network_serial(&self, serial: u64) -> Result<(), StoreError> {
        let serial = i64::try_from(serial).map_err(|_| StoreError::Damaged("network serial"))?;
        self.conn.execute(
            "UPDATE profile SET network_serial = ?1 WHERE only = 1",
            [serial],
        )?;
        Ok(())
    }

    pub fn set_second_gateway(&self, gateway: &Fingerprint) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE profile SET second_gateway = ?1 WHERE only = 1",
            [gateway.as_bytes().as_slice()],
        )?;
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if done > schema::MIGRATIONS.len() {
        return Err(StoreError::Damaged(
            "it was written by a newer sotto; upgrade sotto to open it",
        ));
    }
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}
