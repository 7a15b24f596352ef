//! The client database's schema, as numbered migrations. A database records how far it got in
//! `PRAGMA user_version`; opening it applies the rest, each in its own transaction. Never edit
//! a migration that has shipped: add the next one.

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE profile (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        name TEXT NOT NULL,
        gateway BLOB,
        created_at INTEGER NOT NULL
    );
    -- Links this device made that nobody answered yet.
    CREATE TABLE invitations (
        number INTEGER PRIMARY KEY,
        link TEXT NOT NULL,
        request_host BLOB NOT NULL,
        request_read_id BLOB NOT NULL,
        request_read_key BLOB NOT NULL,
        content_key BLOB NOT NULL,
        link_owner_key BLOB NOT NULL,
        signer_public BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE conversations (
        number INTEGER PRIMARY KEY,
        group_id BLOB NOT NULL UNIQUE,
        alias TEXT NOT NULL UNIQUE,
        peer_name TEXT NOT NULL,
        host BLOB NOT NULL,
        write_id BLOB NOT NULL,
        write_key BLOB NOT NULL,
        read_id BLOB NOT NULL,
        read_key BLOB NOT NULL,
        content_key BLOB NOT NULL,
        -- The last mailbox sequence number applied: a message at or below it is not applied
        -- twice, whatever the host redelivers after a crash.
        applied_seq INTEGER NOT NULL DEFAULT 0,
        -- Texts sent and received since this device's last self-update.
        messages_since_update INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE messages (
        number INTEGER PRIMARY KEY,
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        id BLOB NOT NULL,
        outgoing INTEGER NOT NULL,
        text TEXT NOT NULL,
        reply_to BLOB,
        sent_at INTEGER NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        shown INTEGER NOT NULL DEFAULT 0,
        UNIQUE (conversation, id)
    );
    -- What this device wrote to a conversation mailbox and has not yet seen come back in the
    -- host's order: the host's order decides whether it counts (see conversation::apply).
    CREATE TABLE outbox (
        number INTEGER PRIMARY KEY,
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        digest BLOB NOT NULL,
        epoch INTEGER NOT NULL,
        content BLOB,
        UNIQUE (conversation, digest)
    );
    ",
    // 2: the network authorities this device trusts (threshold byte, then their keys), pinned
    // the first time it reads a network file: a file they did not sign is another network's,
    // or a forgery.
    "
    ALTER TABLE profile ADD COLUMN authority BLOB;
    ",
    // 3: the binding every sealed body of a mailbox is bound to, drawn by the mailbox's
    // creator and kept with its content key. Mailboxes made before had none: both sides of
    // such a conversation take zeros, so they still agree (each of those mailboxes has a key of
    // its own, which is what the binding stands in for).
    "
    ALTER TABLE invitations ADD COLUMN content_binding BLOB NOT NULL
        DEFAULT x'00000000000000000000000000000000';
    ALTER TABLE conversations ADD COLUMN content_binding BLOB NOT NULL
        DEFAULT x'00000000000000000000000000000000';
    ",
    // 4: the second guard, the entry for mailboxes the gateway hosts itself: kept like the
    // gateway, since drawing it anew each run would show the device's address to ever more
    // relays.
    "
    ALTER TABLE profile ADD COLUMN second_gateway BLOB;
    ",
    // 5: a conversation whose other side removed this device stays, with its history, but its
    // mailbox is read no more (its MLS state is gone); and pushes find their conversation by
    // read id without a scan, however many conversations a device has.
    "
    ALTER TABLE conversations ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX conversations_by_read_id ON conversations (read_id);
    ",
    // 6: the parts of a long text received so far; joined into a message once all came.
    "
    CREATE TABLE text_parts (
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        id BLOB NOT NULL,
        part INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        chunk BLOB NOT NULL,
        PRIMARY KEY (conversation, id, part)
    );
    ",
    // 7: the voucher wallet (see `wallet::Entry`) and the key the device asks the issuer for
    // vouchers with.
    "
    ALTER TABLE profile ADD COLUMN voucher_key BLOB;
    CREATE TABLE vouchers (
        nonce BLOB PRIMARY KEY,
        entry BLOB NOT NULL,
        added INTEGER NOT NULL DEFAULT (unixepoch())
    );
    ",
    // 8: receipts owed for texts received, recorded with each text and forgotten once the
    // receipt is written, so a failure in between never loses one.
    "
    CREATE TABLE receipts_owed (
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        id BLOB NOT NULL,
        PRIMARY KEY (conversation, id)
    );
    ",
    // 9: the highest serial of a network file this device took: an older file, however well
    // signed, is refused (it could bring back relays or keys the network dropped).
    "
    ALTER TABLE profile ADD COLUMN network_serial INTEGER NOT NULL DEFAULT 0;
    ",
    // 10: edits, deletions for everyone and reactions (Content kinds 8 to 10); a reaction per
    // side of a conversation and message, `outgoing` 1 for this device's.
    "
    ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE reactions (
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        id BLOB NOT NULL,
        outgoing INTEGER NOT NULL,
        emoji TEXT NOT NULL,
        PRIMARY KEY (conversation, id, outgoing)
    );
    ",
    // 11: disappearing messages (Content kind 11): a conversation's timer, and when each
    // message stored under one goes.
    "
    ALTER TABLE conversations ADD COLUMN disappear_secs INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN expires_at INTEGER;
    CREATE INDEX messages_by_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
    ",
    // 12: files sent and offered, with what a transfer needs to go on after a crash: the offer
    // (the file's key, digest and read capabilities), for uploads the write capabilities, the
    // chunks done (one bit each) and the receipt the hosts count this device's download by.
    "
    CREATE TABLE files (
        number INTEGER PRIMARY KEY,
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        id BLOB NOT NULL,
        outgoing INTEGER NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        offer BLOB NOT NULL,
        writes BLOB,
        path TEXT,
        done BLOB NOT NULL,
        receipt BLOB NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (conversation, id)
    );
    CREATE INDEX files_by_id ON files (id);
    ",
    // 13: groups (see `group`): a group is a conversation marked so; its messages name their
    // sender; the invitations this device sent into a group until their answer is committed
    // and welcomed, and those it answered until their Welcome comes.
    "
    ALTER TABLE conversations ADD COLUMN is_group INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN sender_id BLOB;
    ALTER TABLE messages ADD COLUMN sender_name TEXT;
    CREATE TABLE group_invites (
        invite BLOB PRIMARY KEY,
        group_conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        contact INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        role INTEGER NOT NULL,
        -- The contact's answer, once it came.
        key_package BLOB,
        reader_key BLOB,
        name TEXT,
        -- The read id the group's host gave the contact's reader key, once asked.
        read_id BLOB
    );
    -- Members who asked to leave a group (Content kind 15), until removed.
    CREATE TABLE group_leaves (
        conversation INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        identity BLOB NOT NULL,
        PRIMARY KEY (conversation, identity)
    );
    CREATE TABLE group_joins (
        invite BLOB NOT NULL,
        contact INTEGER NOT NULL REFERENCES conversations(number) ON DELETE CASCADE,
        reader_key BLOB NOT NULL,
        signer_public BLOB NOT NULL,
        PRIMARY KEY (invite, contact)
    );
    ",
    // 14: automatic download of images and voice messages: the largest fetched without being
    // asked (0: none) and the folder they go to (none until the person names one: the home is
    // encrypted at rest, a fetched file is not, so it never goes there unasked).
    "
    ALTER TABLE profile ADD COLUMN auto_download_max INTEGER NOT NULL DEFAULT 8388608;
    ALTER TABLE profile ADD COLUMN download_dir TEXT;
    ",
    // 15: a Welcome that came as a file object (Content kind 16), kept with its join until it
    // is fetched and joined from.
    "
    ALTER TABLE group_joins ADD COLUMN welcome_file BLOB;
    ",
];
