//! Stake: what admits a relay to a network and how often paths choose it.
//!
//! Anyone can start relays, so counting relays would let one operator with many cheap ones see
//! most paths (a Sybil attack). Here weight follows stake instead: each operator's stake is
//! split among its relays, so a thousand relays carry what one would, and a path never takes
//! two relays of one operator, or (when the network asks) of one subnet. Seeing both ends of a
//! path then takes as many separately staked operators as the path has relays.

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
/// provider typically holds), and for a host name the name itself. Names cannot be placed
/// without asking DNS, which the directory never does; authorities that want the rule to bite
/// list IP addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Whether `a` and `b` may not be on one path together.
pub(super) fn related(a: &Relay, b: &Relay, distinct_subnets: bool) -> bool {
    a.fingerprint() == b.fingerprint()
        || a.stake.operator == b.stake.operator
        || (distinct_subnets && subnet(&a.address().host) == subnet(&b.address().host))
}

/// Draws up to `count` relays from `candidates`, each by stake weight among those related to
/// none of `taken` nor to an earlier draw, in the order drawn. Fewer come back when the
/// candidates run out.
pub(super) fn pick<'a, R: Rng + ?Sized>(
    candidates: &[&'a Relay],
    taken: &[&Relay],
    count: usize,
    distinct_subnets: bool,
    rng: &mut R,
) -> Vec<&'a Relay> {
    let mut pool: Vec<&'a Relay> = candidates
        .iter()
        .copied()
        .filter(|relay| !taken.iter().any(|t| related(relay, t, distinct_subnets)))
        .collect();
    let mut drawn = Vec::with_capacity(count);
    while drawn.len() < count {
        // Every weight is at least 1 and their sum fits a u64 (`Directory::new` checks), so
        // this fails only on an empty pool.
        let Ok(&chosen) = pool.choose_weighted(rng, |relay| relay.stake.weight) else {
            break;
        };
        pool.retain(|relay| !related(relay, chosen, distinct_subnets));
        drawn.push(chosen);
    }
    drawn
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
