//! Who may do what in a group, decided by every member alike from the roster before a commit
//! and the one it brings: a commit or message that breaks a rule is rejected by everyone (the
//! epoch stays where it was, and the next valid commit wins it).
//!
//! - Owners and admins add, remove, rename the group and change roles; only an owner makes or
//!   unmakes an owner or removes one; one owner at least stays.
//! - Anyone, observers too, may commit an update of their own keys and nothing else.
//! - Observers send no application messages.
//! - The roster after a commit lists exactly the members after it.

use std::collections::BTreeSet;

use sotto_proto::group::{Role, Roster};

/// What a commit does, as every member sees it before merging it.
pub(crate) struct CommitChange<'a> {
    pub sender: &'a [u8],
    pub added: Vec<Vec<u8>>,
    pub removed: Vec<Vec<u8>>,
    pub after: &'a Roster,
}

/// Refuses a commit the roster `before` does not allow. The error says why, for the event
/// every member reports.
pub(crate) fn check_commit(before: &Roster, change: &CommitChange<'_>) -> Result<(), String> {
    let sender = before
        .member(change.sender)
        .ok_or("its committer is not in the group's roster")?;
    if change.added.is_empty() && change.removed.is_empty() && change.after == before {
        return Ok(());
    }
    if !sender.role.manages() {
        return Err(format!(
            "a commit that changes the group from a {}, who may only update its own keys",
            sender.role
        ));
    }
    let mut expected: BTreeSet<&[u8]> = before
        .members
        .iter()
        .map(|m| m.identity.as_slice())
        .collect();
    for gone in &change.removed {
        if !expected.remove(gone.as_slice()) {
            return Err("it removes someone not in the roster".into());
        }
    }
    for new in &change.added {
        if !expected.insert(new.as_slice()) {
            return Err("it adds someone already in the roster".into());
        }
    }
    let listed: BTreeSet<&[u8]> = change
        .after
        .members
        .iter()
        .map(|m| m.identity.as_slice())
        .collect();
    if listed != expected {
        return Err("its roster does not list exactly the group's members after it".into());
    }
    if sender.role != Role::Owner {
        let owner_touched = before.members.iter().any(|old| {
            old.role == Role::Owner
                && change
                    .after
                    .member(&old.identity)
                    .is_none_or(|new| new.role != Role::Owner)
        }) || change.after.members.iter().any(|new| {
            new.role == Role::Owner
                && before
                    .member(&new.identity)
                    .is_none_or(|old| old.role != Role::Owner)
        });
        if owner_touched {
            return Err("an admin made, unmade or removed an owner".into());
        }
    }
    if !change.after.members.iter().any(|m| m.role == Role::Owner) {
        return Err("it leaves the group without an owner".into());
    }
    Ok(())
}

/// Refuses an application message from a member whose role does not send.
pub(crate) fn check_message(roster: &Roster, sender: &[u8]) -> Result<(), String> {
    match roster.member(sender) {
        None => Err("its sender is not in the group's roster".into()),
        Some(member) if !member.role.sends() => Err(format!(
            "a message from an {}, who may only read",
            member.role
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use sotto_proto::group::Member;
    use sotto_proto::Id;

    use super::*;

    fn member(n: u8, role: Role) -> Member {
        Member {
            identity: vec![n],
            role,
            name: format!("m{n}"),
            read_id: Id::from_bytes([n; 24]),
        }
    }

    fn roster(members: &[(u8, Role)]) -> Roster {
        let mut roster = Roster {
            name: "g".into(),
            description: String::new(),
            members: vec![],
        };
        for &(n, role) in members {
            roster.put(member(n, role));
        }
        roster
    }

    const SENDERS: [&[u8]; 6] = [&[0], &[1], &[2], &[3], &[4], &[5]];

    fn change<'a>(sender: u8, added: &[u8], removed: &[u8], after: &'a Roster) -> CommitChange<'a> {
        CommitChange {
            sender: SENDERS[usize::from(sender)],
            added: added.iter().map(|n| vec![*n]).collect(),
            removed: removed.iter().map(|n| vec![*n]).collect(),
            after,
        }
    }

    use Role::*;

    #[test]
    fn anyone_may_update_their_own_keys() {
        let before = roster(&[(1, Owner), (2, Observer)]);
        assert_eq!(check_commit(&before, &change(2, &[], &[], &before)), Ok(()));
        assert!(check_commit(&before, &change(5, &[], &[], &before)).is_err());
    }

    #[test]
    fn admins_add_and_remove_members_but_plain_members_do_not() {
        let before = roster(&[(1, Owner), (2, Admin), (3, Member)]);
        let after = roster(&[(1, Owner), (2, Admin), (3, Member), (4, Member)]);
        assert_eq!(check_commit(&before, &change(2, &[4], &[], &after)), Ok(()));
        let refused = check_commit(&before, &change(3, &[4], &[], &after)).unwrap_err();
        assert!(refused.contains("member"), "{refused}");
        let after = roster(&[(1, Owner), (2, Admin)]);
        assert_eq!(check_commit(&before, &change(2, &[], &[3], &after)), Ok(()));
        let promoted = roster(&[(1, Owner), (2, Admin), (3, Admin)]);
        assert!(check_commit(&before, &change(3, &[], &[], &promoted)).is_err());
    }

    #[test]
    fn the_roster_must_match_the_members() {
        let before = roster(&[(1, Owner), (2, Member)]);
        let forgot_the_new_one = roster(&[(1, Owner), (2, Member)]);
        assert!(check_commit(&before, &change(1, &[4], &[], &forgot_the_new_one)).is_err());
        let kept_the_removed = roster(&[(1, Owner), (2, Member)]);
        assert!(check_commit(&before, &change(1, &[], &[2], &kept_the_removed)).is_err());
        let invented = roster(&[(1, Owner), (2, Member), (5, Member)]);
        assert!(check_commit(&before, &change(1, &[], &[], &invented)).is_err());
    }

    #[test]
    fn only_owners_touch_owners_and_one_stays() {
        let before = roster(&[(1, Owner), (2, Admin), (3, Member)]);
        let crowned = roster(&[(1, Owner), (2, Admin), (3, Owner)]);
        assert!(check_commit(&before, &change(2, &[], &[], &crowned)).is_err());
        assert_eq!(
            check_commit(&before, &change(1, &[], &[], &crowned)),
            Ok(())
        );
        let deposed = roster(&[(2, Admin), (3, Member)]);
        assert!(check_commit(&before, &change(2, &[], &[1], &deposed)).is_err());
        let ownerless = roster(&[(1, Admin), (2, Admin), (3, Member)]);
        assert!(check_commit(&before, &change(1, &[], &[], &ownerless)).is_err());
    }

    #[test]
    fn observers_read_only() {
        let roster = roster(&[(1, Owner), (2, Observer)]);
        assert_eq!(check_message(&roster, &[1]), Ok(()));
        assert!(check_message(&roster, &[2]).is_err());
        assert!(check_message(&roster, &[3]).is_err());
    }
}
