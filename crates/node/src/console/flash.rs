//! What a page says after a redirect ("Connection acme_to_globex deleted."). The action's
//! handler redirects with the message in the query string (`flash=` or `error=`) and `sig=`, a
//! MAC of it keyed by the session's CSRF token; the page shows the message only when the MAC
//! matches. A link anyone could write (`/connections?flash=Your+license+expired,+call+…`)
//! shows nothing: only this console, for this signed-in session, makes messages.
//!
//! Every message is shown starting with a capital letter, whatever the service's wording
//! (refusals read "there is no item SUP-9" inside sentences of the API).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::auth::{ConsoleUser, urlencode};

/// Longer than any message the console writes; anything longer is not ours.
const MAX_MESSAGE: usize = 2000;

/// The query a redirect after an action carries; pages read it with [`Flash::take`].
#[derive(Deserialize, Default)]
pub struct Flash {
    pub flash: Option<String>,
    pub error: Option<String>,
    pub sig: Option<String>,
}

/// Which of the two a message is: a notice, or a refusal shown as an error.
#[derive(Clone, Copy)]
enum Kind {
    Notice,
    Error,
}

impl Kind {
    fn param(self) -> &'static str {
        match self {
            Kind::Notice => "flash",
            Kind::Error => "error",
        }
    }
}

fn mac(user: &ConsoleUser, kind: Kind, message: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(user.csrf().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"tandem console flash\0");
    mac.update(kind.param().as_bytes());
    mac.update(b"\0");
    mac.update(message.as_bytes());
    mac
}

/// `flash=…&sig=…` (an outcome that went well) or `error=…&sig=…` (a refusal), for this
/// session only.
pub fn query(user: &ConsoleUser, outcome: Result<&str, &str>) -> String {
    let (kind, message) = match outcome {
        Ok(message) => (Kind::Notice, message),
        Err(message) => (Kind::Error, message),
    };
    let sig = URL_SAFE_NO_PAD.encode(mac(user, kind, message).finalize().into_bytes());
    format!("{}={}&sig={sig}", kind.param(), urlencode(message))
}

/// `path` (which may carry a query already) with the outcome joined to it.
pub fn location(user: &ConsoleUser, path: &str, outcome: Result<&str, &str>) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    format!("{path}{join}{}", query(user, outcome))
}

impl Flash {
    /// The notice and the error this session's console wrote, each starting with a capital;
    /// nothing when the signature is missing or does not match.
    pub fn take(self, user: &ConsoleUser) -> (Option<String>, Option<String>) {
        let Some(sig) = self.sig.and_then(|s| URL_SAFE_NO_PAD.decode(s).ok()) else {
            return (None, None);
        };
        let verified = |kind: Kind, message: Option<String>| {
            message
                .filter(|m| m.len() <= MAX_MESSAGE)
                .filter(|m| mac(user, kind, m).verify_slice(&sig).is_ok())
                .map(|m| capitalized(&m))
        };
        (
            verified(Kind::Notice, self.flash),
            verified(Kind::Error, self.error),
        )
    }
}

/// The message as a sentence starts: its first letter upper-case.
pub fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(csrf: &str) -> ConsoleUser {
        let now = jiff::Timestamp::now();
        ConsoleUser {
            session: tandem_store::Session {
                id_hash: String::new(),
                user_id: 1,
                username: "admin".into(),
                csrf_token: csrf.into(),
                created: now,
                expires: now,
            },
            open_errors: 0,
        }
    }

    /// The query a page receives, parsed as the page's extractor parses it.
    fn received(query: &str) -> Flash {
        let mut flash = Flash::default();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap();
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .unwrap()
                .into_owned();
            match name {
                "flash" => flash.flash = Some(value),
                "error" => flash.error = Some(value),
                "sig" => flash.sig = Some(value),
                _ => {}
            }
        }
        flash
    }

    #[test]
    fn the_session_that_wrote_a_message_reads_it() {
        let me = user("csrf-of-this-session");
        let q = query(&me, Ok("connection x deleted."));
        assert_eq!(
            received(&q).take(&me),
            (Some("Connection x deleted.".to_owned()), None)
        );
        let q = query(&me, Err("there is no item SUP-9"));
        assert_eq!(
            received(&q).take(&me),
            (None, Some("There is no item SUP-9".to_owned()))
        );
    }

    #[test]
    fn text_from_anyone_else_is_not_shown() {
        let me = user("csrf-of-this-session");
        let other = user("csrf-of-another-session");
        // No signature: a link anyone can write.
        let forged = received("flash=Call+us+on+555&error=Your+license+expired");
        assert_eq!(forged.take(&me), (None, None));
        // Another session's genuine message.
        let theirs = query(&other, Ok("Connection x deleted."));
        assert_eq!(received(&theirs).take(&me), (None, None));
        // A genuine signature moved to other text, or from a notice to an error.
        let mine = query(&me, Ok("Rules published."));
        let sig = mine.split("&sig=").nth(1).unwrap();
        let moved = received(&format!("flash=Call+us+on+555&sig={sig}"));
        assert_eq!(moved.take(&me), (None, None));
        let as_error = received(&format!("error=Rules+published.&sig={sig}"));
        assert_eq!(as_error.take(&me), (None, None));
    }

    #[test]
    fn redirects_join_the_message_to_an_existing_query() {
        let me = user("k");
        assert!(
            location(&me, "/sync/errors", Ok("done")).starts_with("/sync/errors?flash=done&sig=")
        );
        assert!(
            location(&me, "/sync/entity?key=SUP-1", Err("no"))
                .starts_with("/sync/entity?key=SUP-1&error=no&sig=")
        );
    }

    #[test]
    fn messages_start_with_a_capital() {
        assert_eq!(
            capitalized("there is no item SUP-9"),
            "There is no item SUP-9"
        );
        assert_eq!(capitalized("Rules published."), "Rules published.");
        assert_eq!(capitalized("énorme"), "Énorme");
        assert_eq!(capitalized(""), "");
    }
}
