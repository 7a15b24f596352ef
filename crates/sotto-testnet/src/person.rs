//! A person at the command line for integration tests: a home on a test network, and the
//! `sotto` commands run on it with `--json`, as a newcomer types them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::TestLocalnet;

pub struct CliPerson {
    binary: PathBuf,
    pub home: PathBuf,
    network: PathBuf,
}

impl CliPerson {
    /// `sotto init --name NAME` in a home named after the person, under the localnet's root.
    pub fn new(binary: &Path, net: &TestLocalnet, name: &str) -> Self {
        let person = Self {
            binary: binary.to_path_buf(),
            home: net.root().join(name),
            network: net.root().join("network.toml"),
        };
        person.ok(&["init", "--name", name]);
        person
    }

    /// `sotto ARGS --home HOME --network FILE --json`, not yet run. The environment cannot
    /// point it elsewhere, and throwaway homes keep their keys in files, never in the OS
    /// keyring.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .arg("--home")
            .arg(&self.home)
            .arg("--network")
            .arg(&self.network)
            .arg("--json")
            .env_remove("SOTTO_HOME")
            .env_remove("SOTTO_NETWORK")
            .env_remove("SOTTO_PASSPHRASE")
            .env("SOTTO_KEYRING", "off");
        command
    }

    pub fn sotto(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running sotto")
    }

    /// Runs a command that must succeed; each line of its output as JSON.
    pub fn ok(&self, args: &[&str]) -> Vec<Value> {
        let out = self.sotto(args);
        assert!(
            out.status.success(),
            "sotto {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("sotto prints UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }

    /// Runs a command that must fail; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.sotto(args);
        assert!(!out.status.success(), "sotto {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The lines of `lines` that are events of kind `event`.
pub fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}
