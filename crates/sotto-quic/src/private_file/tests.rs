use super::*;

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("sotto-private-file-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_file_is_owner_only_and_never_overwritten() {
    let dir = TempDir::new();
    let key = dir.0.join("identity.key");
    write_private(&key, b"secret", Placement::New).unwrap();
    assert_eq!(std::fs::read(&key).unwrap(), b"secret");
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);
    let again = write_private(&key, b"other", Placement::New).unwrap_err();
    assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&key).unwrap(), b"secret");
}

#[test]
fn a_replaced_file_is_whole_owner_only_and_leaves_nothing_beside_it() {
    let dir = TempDir::new();
    let token = dir.0.join("api-token");
    write_private(&token, b"first", Placement::Replace).unwrap();
    // What a crash in the middle of a replacement leaves.
    std::fs::write(unfinished_path(&token), b"torn").unwrap();
    write_private(&token, b"second", Placement::Replace).unwrap();
    assert_eq!(std::fs::read(&token).unwrap(), b"second");
    #[cfg(unix)]
    assert_eq!(mode(&token), 0o600);
    let names: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["api-token"]);
}

#[cfg(unix)]
#[test]
fn restricting_keeps_the_content_and_leaves_only_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let store = dir.0.join("relay.redb");
    std::fs::write(&store, b"data").unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    restrict_to_owner(&store).unwrap();
    assert_eq!(mode(&store), 0o600);
    assert_eq!(std::fs::read(&store).unwrap(), b"data");
    let fresh = dir.0.join("replay.log");
    restrict_to_owner(&fresh).unwrap();
    assert_eq!(
        (mode(&fresh), std::fs::read(&fresh).unwrap().len()),
        (0o600, 0)
    );
}
