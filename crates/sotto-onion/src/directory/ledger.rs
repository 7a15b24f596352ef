//! The stake ledger (`stake.toml`): the authority's record of who may run relays in its network
//! and with what stake. Joined with the relays' descriptors it gives the network file.
//!
//! ```toml
//! # sotto stake ledger: the operators admitted to this network, their stake and their relays.
//! min_stake = 1000
//! distinct_subnets = true
//!
//! [[operator]]
//! name = "north"
//! stake = 25000
//! relays = ["9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a"]
//! ```
//!
//! A relay is named by its fingerprint or by its whole address, as `sotto relay init` prints it.
//!
//! `min_stake` (default 1) is the least an operator must stake to be admitted;
//! `distinct_subnets` (default true) goes into the network file. A network with several
//! authorities names them here, `authorities = ["<64 hex>", ...]` with `threshold = <how many
//! must sign>` (default: more than half); every authority keeps the same ledger, so each can
//! check a network file against its own copy before it signs (`sotto network cosign`). An operator's stake is split
//! evenly among its relays that are running (have a descriptor), so running more relays never
//! raises an operator's share of paths: that is what makes many cheap relays useless for a
//! Sybil attack. A relay is listed under one operator only; the ledger, not the relay, says
//! whose it is, so nobody can borrow another's stake by claiming it.
//!
//! This is the signed stake ledger for local and private networks. A public network would read
//! the same facts from a staking contract instead.

use std::collections::HashMap;

use serde::Deserialize;
use sotto_proto::{Fingerprint, RelayAddress};
use thiserror::Error;

use super::descriptor::from_toml;
use super::{
    seal, stake, Authorities, Descriptors, Directory, DirectoryError, Relay, Stake, TOML_MAX,
};

/// Why a stake ledger was refused. Operators are numbered from 1 as `[[operator]]` tables.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LedgerError {
    #[error("the stake ledger does not have the expected form: {0}")]
    Toml(String),
    #[error("the stake ledger lists no operator; it needs at least one [[operator]]")]
    NoOperators,
    #[error("operator {number} ({name:?}): {why}")]
    Name {
        number: usize,
        name: String,
        why: &'static str,
    },
    #[error("operators {first} and {again} are both named {name:?}")]
    DuplicateName {
        name: String,
        first: usize,
        again: usize,
    },
    #[error("operator {number} ({name}) stakes {stake}, below this network's min_stake {min}")]
    BelowMinimum {
        number: usize,
        name: String,
        stake: u64,
        min: u64,
    },
    #[error(
        "operator {number} ({name}) stakes {stake} but lists {relays} relays; each relay needs \
         a stake of at least 1"
    )]
    StakeTooThin {
        number: usize,
        name: String,
        stake: u64,
        relays: usize,
    },
    #[error(
        "operator {number} ({name}): relays entry {entry} is neither a 64-hex-digit fingerprint \
         nor a relay address (sotto-relay://...)"
    )]
    Fingerprint {
        number: usize,
        name: String,
        entry: usize,
    },
    #[error("relay {fingerprint} is listed under operators {first} and {again}; a relay has one operator")]
    SharedRelay {
        fingerprint: Fingerprint,
        first: usize,
        again: usize,
    },
    #[error("the operators' stakes add up to more than {max}", max = TOML_MAX)]
    StakeTotal,
    #[error("authorities: {0}")]
    Authorities(DirectoryError),
    #[error("threshold is given without authorities to meet it")]
    ThresholdAlone,
    #[error("the network file does not match this ledger: {0}")]
    Disagrees(String),
}

/// One operator: a name, its stake, and the fingerprints of the relays it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub stake: u64,
    pub relays: Vec<Fingerprint>,
}

/// A checked stake ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    distinct_subnets: bool,
    /// The network's authorities, when the ledger names them (several, usually); `None`
    /// leaves the network to whoever assembles it alone.
    authorities: Option<Authorities>,
    operators: Vec<Operator>,
    /// Relay fingerprint to index in `operators`.
    operator_of: HashMap<Fingerprint, usize>,
}

/// A network file's content made from a ledger and descriptors, with what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub directory: Directory,
    /// Relays that described themselves but have no stake in the ledger: not admitted.
    pub unstaked: Vec<Fingerprint>,
    /// Relays the ledger lists that gave no descriptor (not running yet, or gone).
    pub absent: Vec<Fingerprint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerFile {
    #[serde(default = "one")]
    min_stake: u64,
    #[serde(default = "yes")]
    distinct_subnets: bool,
    #[serde(default)]
    authorities: Vec<String>,
    threshold: Option<u64>,
    #[serde(default)]
    operator: Vec<OperatorEntry>,
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorEntry {
    name: String,
    stake: u64,
    relays: Vec<String>,
}

impl Ledger {
    /// Checks a ledger given in code, as [`Ledger::parse`] checks a file.
    pub fn new(
        min_stake: u64,
        distinct_subnets: bool,
        operators: Vec<Operator>,
    ) -> Result<Self, LedgerError> {
        if operators.is_empty() {
            return Err(LedgerError::NoOperators);
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut operator_of = HashMap::new();
        let mut total: u64 = 0;
        for (index, operator) in operators.iter().enumerate() {
            let number = index + 1;
            let name = || operator.name.clone();
            if let Some(why) = stake::operator_name_problem(&operator.name) {
                return Err(LedgerError::Name {
                    number,
                    name: name(),
                    why,
                });
            }
            if let Some(first) = names.insert(&operator.name, number) {
                return Err(LedgerError::DuplicateName {
                    name: name(),
                    first,
                    again: number,
                });
            }
            if operator.stake < min_stake.max(1) {
                return Err(LedgerError::BelowMinimum {
                    number,
                    name: name(),
                    stake: operator.stake,
                    min: min_stake.max(1),
                });
            }
            if operator.stake < operator.relays.len() as u64 {
                return Err(LedgerError::StakeTooThin {
                    number,
                    name: name(),
                    stake: operator.stake,
                    relays: operator.relays.len(),
                });
            }
            total = total
                .checked_add(operator.stake)
                .filter(|total| *total <= TOML_MAX)
                .ok_or(LedgerError::StakeTotal)?;
            for relay in &operator.relays {
                if let Some(first) = operator_of.insert(*relay, index) {
                    return Err(LedgerError::SharedRelay {
                        fingerprint: *relay,
                        first: first + 1,
                        again: number,
                    });
                }
            }
        }
        Ok(Self {
            distinct_subnets,
            authorities: None,
            operators,
            operator_of,
        })
    }

    /// This ledger with the network's authorities named.
    pub fn with_authorities(self, authorities: Authorities) -> Self {
        Self {
            authorities: Some(authorities),
            ..self
        }
    }

    pub fn authorities(&self) -> Option<&Authorities> {
        self.authorities.as_ref()
    }

    /// Reads a stake ledger and checks it whole.
    pub fn parse(text: &str) -> Result<Self, LedgerError> {
        let file: LedgerFile = from_toml(text).map_err(|error| match error {
            DirectoryError::Toml(message) => LedgerError::Toml(message),
            other => LedgerError::Toml(other.to_string()),
        })?;
        let operators = file
            .operator
            .into_iter()
            .enumerate()
            .map(|(index, entry)| entry.decode(index + 1))
            .collect::<Result<Vec<_>, _>>()?;
        let ledger = Self::new(file.min_stake, file.distinct_subnets, operators)?;
        if file.authorities.is_empty() {
            return match file.threshold {
                Some(_) => Err(LedgerError::ThresholdAlone),
                None => Ok(ledger),
            };
        }
        let keys = file
            .authorities
            .iter()
            .map(|key| seal::authority_from_hex(key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(LedgerError::Authorities)?;
        let authorities = match file.threshold {
            Some(threshold) => {
                Authorities::new(keys, usize::try_from(threshold).unwrap_or(usize::MAX))
            }
            None => Authorities::majority(keys),
        }
        .map_err(LedgerError::Authorities)?;
        Ok(ledger.with_authorities(authorities))
    }

    pub fn operators(&self) -> &[Operator] {
        &self.operators
    }

    /// The directory of the staked relays among `descriptors`, each with its share of its
    /// operator's stake, in the descriptors' order.
    pub fn admit(&self, descriptors: Descriptors) -> Result<Admission, DirectoryError> {
        let present: HashMap<Fingerprint, ()> = descriptors
            .relays
            .iter()
            .map(|relay| (*relay.fingerprint(), ()))
            .collect();
        let running = |operator: &Operator| {
            operator
                .relays
                .iter()
                .filter(|relay| present.contains_key(relay))
                .count() as u64
        };
        let mut unstaked = Vec::new();
        let mut relays = Vec::new();
        let mut placed: HashMap<usize, u64> = HashMap::new();
        for descriptor in descriptors.relays {
            let Some(&index) = self.operator_of.get(descriptor.fingerprint()) else {
                unstaked.push(*descriptor.fingerprint());
                continue;
            };
            let operator = &self.operators[index];
            let count = running(operator);
            // The first `stake % count` relays placed take one more, so the shares add up to
            // the operator's stake exactly. `count` is at least 1: this relay runs.
            let nth = placed.entry(index).or_default();
            let weight = operator.stake / count + u64::from(*nth < operator.stake % count);
            *nth += 1;
            relays.push(Relay {
                descriptor,
                stake: Stake {
                    operator: operator.name.clone(),
                    weight,
                },
            });
        }
        let absent = self
            .operators
            .iter()
            .flat_map(|operator| operator.relays.iter())
            .filter(|relay| !present.contains_key(relay))
            .copied()
            .collect();
        let mut directory =
            Directory::with_subnet_rule(descriptors.epoch_secs, self.distinct_subnets, relays)?;
        if let Some(authorities) = &self.authorities {
            directory = directory.with_authorities(authorities.clone());
        }
        Ok(Admission {
            directory,
            unstaked,
            absent,
        })
    }
}

impl Ledger {
    /// Whether `directory` is what this ledger makes of the relays in it: the same operators
    /// and stakes, subnet rule and authorities. An authority checks this before it signs a
    /// file another authority assembled.
    pub fn confirms(&self, directory: &Directory) -> Result<(), LedgerError> {
        let disagree = |what: String| Err(LedgerError::Disagrees(what));
        let descriptors = directory
            .relays()
            .iter()
            .map(|relay| relay.descriptor.clone())
            .collect();
        let mine = Descriptors::new(directory.epoch_secs(), descriptors)
            .and_then(|descriptors| self.admit(descriptors))
            .map_err(|error| LedgerError::Disagrees(error.to_string()))?;
        if let Some(relay) = mine.unstaked.first() {
            return disagree(format!("relay {relay} has no stake here"));
        }
        if mine.directory.distinct_subnets() != directory.distinct_subnets() {
            return disagree("distinct_subnets differs".into());
        }
        if self.authorities() != directory.authorities() {
            return disagree("the authorities or their threshold differ".into());
        }
        for (ours, theirs) in mine.directory.relays().iter().zip(directory.relays()) {
            if ours.stake != theirs.stake {
                return disagree(format!(
                    "relay {}: {} with stake {} here, {} with stake {} in the file",
                    ours.fingerprint(),
                    ours.stake.operator,
                    ours.stake.weight,
                    theirs.stake.operator,
                    theirs.stake.weight
                ));
            }
        }
        Ok(())
    }
}

impl OperatorEntry {
    fn decode(self, number: usize) -> Result<Operator, LedgerError> {
        let relays = self
            .relays
            .iter()
            .enumerate()
            .map(|(entry, text)| {
                // A fingerprint, or the whole address `sotto relay init` printed.
                let mut bytes = [0u8; 32];
                if hex::decode_to_slice(text, &mut bytes).is_ok() {
                    return Ok(Fingerprint::from_bytes(bytes));
                }
                text.parse::<RelayAddress>()
                    .map(|address| address.fingerprint)
                    .map_err(|_| LedgerError::Fingerprint {
                        number,
                        name: self.name.clone(),
                        entry: entry + 1,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Operator {
            name: self.name,
            stake: self.stake,
            relays,
        })
    }
}
