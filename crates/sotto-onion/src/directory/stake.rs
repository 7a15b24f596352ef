//! Stake: what admits a relay to a network and how often paths choose it.
//!
//! Anyone can start relays, so counting relays would let one operator with many cheap ones see
//! most paths (a Sybil attack). Here weight follows stake instead: each operator's stake is
//! split among its relays, so a thousand relays carry what one would, and a path never takes
//! two relays of one operator, or (when the network asks) of one subnet. Seeing both ends of a
//! path then takes as many separately staked operators as the path has relays.

use std::collections::HashMap;
use std::net::IpAddr;

use rand::seq::SliceRandom;
use rand::Rng;

use super::Relay;

/// The longest operator name.
pub const MAX_OPERATOR_LEN: usize = 64;

/// A relay's admission: who runs it (as the stake ledger names them) and the stake it carries,
/// its share of its operator's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stake {
    pub operator: String,
    pub weight: u64,
}

/// Why an operator name is refused, if it is: names are written into files and shown to
/// people, so they are short, plain and unambiguous.
pub(super) fn operator_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an operator name cannot be empty")
    } else if name.len() > MAX_OPERATOR_LEN {
        Some("an operator name has at most 64 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        Some("an operator name has only letters, digits, '-', '.' and '_'")
    } else {
        None
    }
}

/// The part of the network a relay's address is in, for the rule that a path's relays come
/// from distinct ones: the /16 of an IPv4 address, the /32 of an IPv6 one (what one hosting
/// provider typically holds). A directory with the rule lists IP addresses only (names cannot
/// be placed without asking DNS, which the directory never does); without it, a host name is
/// its own subnet, which then matters to no rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subnet {
    V4([u8; 2]),
    V6([u8; 4]),
    Name(String),
}

fn subnet(host: &str) -> Subnet {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let [a, b, _, _] = ip.octets();
            Subnet::V4([a, b])
        }
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => subnet(&v4.to_string()),
            None => {
                let [a, b, c, d, ..] = ip.octets();
                Subnet::V6([a, b, c, d])
            }
        },
        Err(_) => Subnet::Name(host.to_ascii_lowercase()),
    }
}

/// Whether `a` and `b` may not be on one path together: the rule [`Choice`] applies, stated on
/// relays for the tests to check paths against.
#[cfg(test)]
pub(super) fn related(a: &Relay, b: &Relay, distinct_subnets: bool) -> bool {
    a.fingerprint() == b.fingerprint()
        || a.stake.operator == b.stake.operator
        || (distinct_subnets && subnet(&a.address().host) == subnet(&b.address().host))
}

/// Draws made after this many rejected samples go through the exact, slower way: only when
/// most stake is ineligible (a small network, or a path that rules out most of it).
const QUICK_TRIES: usize = 32;

/// What drawing relays by stake needs, worked out once per directory: each relay's operator
/// and subnet as numbers, and the running total of stakes. Drawing a path then costs a few
/// binary searches instead of a pass over every relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Choice {
    operator: Vec<u32>,
    subnet: Vec<u32>,
    /// `cumulative[i]`: the stakes of relays `0..=i` added up (at most `TOML_MAX`, which
    /// `Directory::new` checks).
    cumulative: Vec<u64>,
    distinct_subnets: bool,
}

impl Choice {
    pub(super) fn new(relays: &[Relay], distinct_subnets: bool) -> Self {
        fn number<K: std::hash::Hash + Eq>(seen: &mut HashMap<K, u32>, key: K) -> u32 {
            let next = seen.len() as u32;
            *seen.entry(key).or_insert(next)
        }
        let (mut operators, mut subnets) = (HashMap::new(), HashMap::new());
        let mut total = 0u64;
        let mut choice = Self {
            operator: Vec::with_capacity(relays.len()),
            subnet: Vec::with_capacity(relays.len()),
            cumulative: Vec::with_capacity(relays.len()),
            distinct_subnets,
        };
        for relay in relays {
            choice
                .operator
                .push(number(&mut operators, relay.stake.operator.as_str()));
            choice
                .subnet
                .push(number(&mut subnets, subnet(&relay.address().host)));
            total = total.saturating_add(relay.stake.weight);
            choice.cumulative.push(total);
        }
        choice
    }

    pub(super) fn distinct_subnets(&self) -> bool {
        self.distinct_subnets
    }

    pub(super) fn related(&self, a: usize, b: usize) -> bool {
        a == b
            || self.operator[a] == self.operator[b]
            || (self.distinct_subnets && self.subnet[a] == self.subnet[b])
    }

    fn weight(&self, i: usize) -> u64 {
        self.cumulative[i] - i.checked_sub(1).map_or(0, |before| self.cumulative[before])
    }

    /// One relay by stake among all.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<usize> {
        let total = *self.cumulative.last()?;
        let point = rng.gen_range(0..total);
        Some(self.cumulative.partition_point(|&sum| sum <= point))
    }

    /// Draws up to `count` relays (by index) among those `eligible`, each by stake among the
    /// eligible relays related to none of `taken` nor to an earlier draw, in the order drawn.
    /// Fewer come back when the candidates run out.
    ///
    /// A draw samples all relays by stake and takes the first acceptable one: that is the
    /// stake distribution restricted to acceptable relays, exactly. When acceptable relays hold
    /// little of the stake it falls back to drawing among them directly, the same distribution.
    pub(super) fn pick<R: Rng + ?Sized>(
        &self,
        eligible: impl Fn(usize) -> bool,
        taken: &[usize],
        count: usize,
        rng: &mut R,
    ) -> Vec<usize> {
        let mut chosen = taken.to_vec();
        let acceptable =
            |i: usize, chosen: &[usize]| eligible(i) && !chosen.iter().any(|&c| self.related(i, c));
        let mut drawn = Vec::with_capacity(count);
        while drawn.len() < count {
            let quick = (0..QUICK_TRIES)
                .filter_map(|_| self.sample(rng))
                .find(|&i| acceptable(i, &chosen));
            let next = quick.or_else(|| {
                let pool: Vec<usize> = (0..self.cumulative.len())
                    .filter(|&i| acceptable(i, &chosen))
                    .collect();
                pool.choose_weighted(rng, |&i| self.weight(i)).ok().copied()
            });
            let Some(next) = next else {
                break;
            };
            chosen.push(next);
            drawn.push(next);
        }
        drawn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_slash_16_and_slash_32_and_names_stand_alone() {
        assert_eq!(subnet("10.1.2.3"), subnet("10.1.200.7"));
        assert_ne!(subnet("10.1.2.3"), subnet("10.2.2.3"));
        assert_eq!(subnet("2001:db8:1::1"), subnet("2001:db8:ffff::2"));
        assert_ne!(subnet("2001:db8::1"), subnet("2001:db9::1"));
        assert_eq!(subnet("::ffff:10.1.2.3"), subnet("10.1.9.9"));
        assert_eq!(subnet("Relay.Example"), subnet("relay.example"));
        assert_ne!(subnet("a.example"), subnet("b.example"));
    }

    #[test]
    fn operator_names_are_plain() {
        assert_eq!(operator_name_problem("north-1.coop_x"), None);
        assert!(operator_name_problem("").is_some());
        assert!(operator_name_problem("a b").is_some());
        assert!(operator_name_problem("\"x\"").is_some());
        assert!(operator_name_problem(&"x".repeat(65)).is_some());
        assert_eq!(operator_name_problem(&"x".repeat(64)), None);
    }
}
