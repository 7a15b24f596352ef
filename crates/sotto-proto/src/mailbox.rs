use crate::DecodeError;

/// What a mailbox is for; the host treats all kinds alike except that a one-time request mailbox
/// accepts a single write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailboxKind {
    /// Takes exactly one write (an answer to a one-time link), then is gone once read.
    OneTimeRequest,
    /// A long-lived address many writers know.
    ContactAddress,
    /// The mailbox of one conversation (1:1 or group).
    Conversation,
    /// Holds file chunks for many readers, usually with a short TTL.
    File,
}

impl MailboxKind {
    pub const ALL: [MailboxKind; 4] = [
        Self::OneTimeRequest,
        Self::ContactAddress,
        Self::Conversation,
        Self::File,
    ];

    pub fn code(self) -> u8 {
        match self {
            Self::OneTimeRequest => 1,
            Self::ContactAddress => 2,
            Self::Conversation => 3,
            Self::File => 4,
        }
    }

    pub fn from_code(code: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.code() == code)
            .ok_or(DecodeError::UnknownCode {
                what: "mailbox kind",
                code,
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::OneTimeRequest => "one_time_request",
            Self::ContactAddress => "contact_address",
            Self::Conversation => "conversation",
            Self::File => "file",
        }
    }
}

/// The errors a host answers with. `Auth` covers a bad signature, an unknown id and a mailbox that
/// no longer exists alike, so a prober learns nothing about which ids exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Auth,
    Quota,
    Malformed,
    Stale,
    Internal,
    /// This network's hosts take a mailbox or link only with a voucher.
    VoucherNeeded,
    /// The voucher is not signed by a key of the network's issuer (or its key has retired).
    VoucherInvalid,
    /// The voucher was spent before.
    VoucherSpent,
    /// The host holds as much as its operator allows (mailboxes, links, readers or its disk
    /// budget): nothing was stored. Another host, or later, may take it.
    Full,
    /// The host is at a limit on work in flight (remembered answers, subscriptions): nothing
    /// ran; the same request may be sent again after a pause.
    Busy,
    /// `GetChunk` of a chunk the file does not hold (yet).
    NoChunk,
    /// A file larger than the host takes, or a chunk index beyond the file's chunk count.
    TooLarge,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 12] = [
        Self::Auth,
        Self::Quota,
        Self::Malformed,
        Self::Stale,
        Self::Internal,
        Self::Full,
        Self::Busy,
        Self::VoucherNeeded,
        Self::VoucherInvalid,
        Self::VoucherSpent,
        Self::NoChunk,
        Self::TooLarge,
    ];

    pub fn code(self) -> u8 {
        match self {
            Self::Auth => 1,
            Self::Quota => 2,
            Self::Malformed => 3,
            Self::Stale => 4,
            Self::Internal => 5,
            Self::Full => 6,
            Self::Busy => 7,
            Self::VoucherNeeded => 10,
            Self::VoucherInvalid => 11,
            Self::VoucherSpent => 12,
            Self::NoChunk => 13,
            Self::TooLarge => 14,
        }
    }

    pub fn from_code(code: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|error| error.code() == code)
            .ok_or(DecodeError::UnknownCode {
                what: "error",
                code,
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Quota => "quota",
            Self::Malformed => "malformed",
            Self::Stale => "stale",
            Self::Internal => "internal",
            Self::Full => "full",
            Self::Busy => "busy",
            Self::VoucherNeeded => "voucher_needed",
            Self::VoucherInvalid => "voucher_invalid",
            Self::VoucherSpent => "voucher_spent",
            Self::NoChunk => "no_chunk",
            Self::TooLarge => "too_large",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auth => "AUTH: unknown capability or bad signature",
            Self::Quota => "QUOTA: the mailbox holds as many unacknowledged messages as it may",
            Self::Malformed => "MALFORMED: the host could not decode the request",
            Self::Stale => {
                "STALE: the request's timestamp is outside the replay window (check the clock)"
            }
            Self::Internal => "INTERNAL: the host failed to store or read data",
            Self::Full => {
                "FULL: the host holds as much as its operator allows; try again later or use another host"
            }
            Self::Busy => "BUSY: the host is at a limit on work in flight; try again in a moment",
            Self::VoucherNeeded => "VOUCHER_NEEDED: this network's hosts require a voucher",
            Self::VoucherInvalid => {
                "VOUCHER_INVALID: the voucher is not signed by a current key of the issuer"
            }
            Self::VoucherSpent => "VOUCHER_SPENT: the voucher was spent before",
            Self::NoChunk => "NO_CHUNK: the host does not hold that chunk of the file",
            Self::TooLarge => "TOO_LARGE: the file is larger than the host takes",
        })
    }
}
