//! Who may open the API: a program that presents the token, and a web page only if its origin
//! was allowed. The API listens on loopback, which every web page the person visits can reach
//! too; a browser says which site a page came from in `Origin`, so a request that carries one
//! not on the list is a page the person never allowed, whatever token it may have learned.

use std::path::Path;

use anyhow::Context;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request as Upgrade};
use tokio_tungstenite::tungstenite::http::StatusCode;

/// Hex digits in a token: 32 random bytes.
const TOKEN_LEN: usize = 64;

/// The API token in `file`: the one there if it is whole (64 hex digits), else a new one
/// written in its place. A token file cut short by a crash would otherwise be a token anyone
/// can guess.
pub fn token(file: &Path) -> anyhow::Result<String> {
    match std::fs::read(file) {
        Ok(bytes) => {
            let token = String::from_utf8_lossy(&bytes).trim().to_string();
            if token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(token);
            }
            tracing::warn!(file = %file.display(), "the API token file is damaged; making a new token");
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", file.display()));
        }
    }
    let mut bytes = [0u8; TOKEN_LEN / 2];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    sotto_quic::write_private(file, token.as_bytes(), sotto_quic::Placement::Replace)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(token)
}

/// What an upgrade request must show to become an API connection.
#[derive(Clone)]
pub struct Gate {
    /// The token's digest: comparing digests keeps the comparison's timing independent of the
    /// token.
    token: [u8; 32],
    origins: Vec<String>,
}

/// An origin as browsers send it and as people write it: no trailing slash, any case.
fn normalized(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl Gate {
    pub fn new(token: &str, allowed_origins: &[String]) -> Self {
        Self {
            token: Sha256::digest(token.as_bytes()).into(),
            origins: allowed_origins.iter().map(|o| normalized(o)).collect(),
        }
    }

    /// This gate with one more origin allowed: the web app's own, for its pages.
    pub fn with_origin(&self, origin: &str) -> Self {
        let mut gate = self.clone();
        gate.origins.push(normalized(origin));
        gate
    }

    /// Lets the upgrade through only from an allowed origin (or none) with the right token.
    // The error type is the one tungstenite's handshake callback requires.
    #[allow(clippy::result_large_err)]
    pub fn check(&self, upgrade: &Upgrade) -> Result<(), ErrorResponse> {
        if let Some(origin) = upgrade.headers().get("origin") {
            let allowed = origin
                .to_str()
                .is_ok_and(|origin| self.origins.contains(&normalized(origin)));
            if !allowed {
                return Err(refusal(
                    StatusCode::FORBIDDEN,
                    "this web origin may not use the API (see sotto serve --allow-origin)",
                ));
            }
        }
        let digest: Option<[u8; 32]> =
            presented(upgrade).map(|token| Sha256::digest(token.as_bytes()).into());
        if digest != Some(self.token) {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "wrong or missing API token",
            ));
        }
        Ok(())
    }
}

fn refusal(status: StatusCode, reason: &str) -> ErrorResponse {
    let mut refusal = ErrorResponse::new(Some(reason.into()));
    *refusal.status_mut() = status;
    refusal
}

/// The token from `Authorization: Bearer <token>` or, for browsers, `?token=<token>`.
fn presented(upgrade: &Upgrade) -> Option<String> {
    let header = upgrade
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let query = upgrade.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    });
    header.or(query).map(|token| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn upgrade(origin: Option<&str>, token: &str) -> Upgrade {
        let mut request = Upgrade::builder()
            .uri("/")
            .header("authorization", format!("Bearer {token}"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(()).unwrap()
    }

    fn status(outcome: Result<(), ErrorResponse>) -> Option<StatusCode> {
        outcome.err().map(|refusal| refusal.status())
    }

    #[test]
    fn pages_of_other_sites_are_refused_even_with_the_token() {
        let gate = Gate::new(TOKEN, &["http://localhost:8080/".into()]);
        assert_eq!(status(gate.check(&upgrade(None, TOKEN))), None);
        assert_eq!(
            status(gate.check(&upgrade(Some("http://LOCALHOST:8080"), TOKEN))),
            None
        );
        assert_eq!(
            status(gate.check(&upgrade(Some("https://evil.example"), TOKEN))),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(gate.check(&upgrade(Some("null"), TOKEN))),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(gate.check(&upgrade(None, "not-the-token"))),
            Some(StatusCode::UNAUTHORIZED)
        );
        let no_pages = Gate::new(TOKEN, &[]);
        assert_eq!(
            status(no_pages.check(&upgrade(Some("http://localhost:8080"), TOKEN))),
            Some(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn a_token_file_cut_short_gets_a_new_token() {
        let directory =
            std::env::temp_dir().join(format!("sotto-token-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&directory).unwrap();
        let file = directory.join("api-token");
        for damaged in ["", "0011", &"zz".repeat(32)] {
            std::fs::write(&file, damaged).unwrap();
            let token = token(&file).unwrap();
            assert_eq!(token.len(), TOKEN_LEN, "replaced {damaged:?}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
        }
        std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
        assert_eq!(token(&file).unwrap(), TOKEN, "a whole token is kept");
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
