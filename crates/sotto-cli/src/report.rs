//! How a failed command explains itself: each cause once, outermost first.

/// The error and its causes joined by ": ". Library errors often quote their cause in their own
/// message already; such a cause is not repeated.
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quotes its cause in its message, as the libraries' `thiserror` errors do.
    #[derive(Debug)]
    struct Quoting {
        source: std::io::Error,
    }

    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot listen on 127.0.0.1:1: {}", self.source)
        }
    }

    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let error = anyhow::Error::new(Quoting { source: io }).context("starting the relay");
        assert_eq!(
            describe(&error),
            "starting the relay: cannot listen on 127.0.0.1:1: Address already in use"
        );
    }

    #[test]
    fn every_cause_not_quoted_is_kept() {
        let error = anyhow::anyhow!("disk full")
            .context("saving the message")
            .context("sending");
        assert_eq!(describe(&error), "sending: saving the message: disk full");
    }
}
