//! Authentication as each flavour takes it (tracker-apis.md §2.2): on Cloud, Basic with the
//! account's e-mail and an API token (passwords and bearer tokens are refused); on Data Center,
//! a personal access token as `Bearer`, or Basic with the user name and password.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;

use super::error::ApiError;
use super::site::{Flavour, account_id};

/// Who may sign in, and with what.
pub struct Auth {
    flavour: Flavour,
    /// Cloud: lower-cased e-mail → API token. DC: user name → password.
    basic: HashMap<String, (String, String)>,
    /// DC: personal access token → accountId.
    bearer: HashMap<String, String>,
}

impl Auth {
    /// `users` are (e-mail, secret) pairs; on DC the secret is both the PAT and the password.
    pub fn new(flavour: Flavour, users: &[(String, String)]) -> Self {
        let mut basic = HashMap::new();
        let mut bearer = HashMap::new();
        for (email, secret) in users {
            let id = account_id(email);
            match flavour {
                Flavour::Cloud => {
                    basic.insert(email.to_lowercase(), (secret.clone(), id));
                }
                Flavour::Dc => {
                    let name = email.split('@').next().unwrap_or(email).to_owned();
                    basic.insert(name, (secret.clone(), id.clone()));
                    bearer.insert(secret.clone(), id);
                }
            }
        }
        Self {
            flavour,
            basic,
            bearer,
        }
    }

    /// The accountId a request authenticates as.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        let (scheme, rest) = value
            .split_once(' ')
            .ok_or_else(ApiError::unauthenticated)?;
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(ApiError::unauthenticated)?;
            let (user, secret) = decoded
                .split_once(':')
                .ok_or_else(ApiError::unauthenticated)?;
            let key = match self.flavour {
                Flavour::Cloud => user.to_lowercase(),
                Flavour::Dc => user.to_owned(),
            };
            return match self.basic.get(&key) {
                Some((s, id)) if constant_time_eq(s.as_bytes(), secret.as_bytes()) => {
                    Ok(id.clone())
                }
                _ => Err(ApiError::unauthenticated()),
            };
        }
        if scheme.eq_ignore_ascii_case("bearer") && self.flavour == Flavour::Dc {
            return self
                .bearer
                .get(rest.trim())
                .cloned()
                .ok_or_else(ApiError::unauthenticated);
        }
        Err(ApiError::unauthenticated())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn basic(user: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).expect("header"),
        );
        h
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        h
    }

    #[test]
    fn cloud_takes_email_and_api_token_only() {
        let a = Auth::new(
            Flavour::Cloud,
            &[("Ann@example.com".into(), "tok:en".into())],
        );
        assert_eq!(
            a.authenticate(&basic("ann@example.com", "tok:en")).ok(),
            Some(account_id("ann@example.com"))
        );
        assert!(a.authenticate(&basic("ann@example.com", "wrong")).is_err());
        assert!(
            a.authenticate(&basic("ann", "tok:en")).is_err(),
            "a user name is not an e-mail"
        );
        assert!(
            a.authenticate(&bearer("tok:en")).is_err(),
            "no PATs on Cloud"
        );
        assert!(a.authenticate(&HeaderMap::new()).is_err());
    }

    #[test]
    fn data_center_takes_a_pat_or_name_and_password() {
        let a = Auth::new(Flavour::Dc, &[("ann@example.com".into(), "pat123".into())]);
        assert!(a.authenticate(&bearer("pat123")).is_ok());
        assert!(a.authenticate(&bearer("nope")).is_err());
        assert!(a.authenticate(&basic("ann", "pat123")).is_ok());
        assert!(a.authenticate(&basic("ann@example.com", "pat123")).is_err());
    }
}
