//! API tokens for scripts: `Authorization: Bearer vgl_<id>_<secret>`. The secret is 256
//! random bits shown once when the token is created; only its BLAKE3 hash is kept (a fast hash
//! is enough for a secret of full entropy, and compares in constant time). Each token has a
//! role, an optional expiry, and can be revoked; revoked tokens are kept, for the audit trail.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use serde::{Deserialize, Serialize};
use vigil_event::Timestamp;

use crate::{Accounts, Role, check_name, modify};

/// What every token starts with (so a leaked one is recognisable, e.g. by secret scanners).
pub const PREFIX: &str = "vgl_";

/// One API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Public id: 16 hex digits, part of the token and what `revoke` takes.
    pub id: String,
    /// What it is for (a name, checked like a user name).
    pub name: String,
    /// What requests with it may do.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
    /// After this it is refused.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked; refused from then on.
    pub revoked_at: Option<Timestamp>,
    /// BLAKE3 of the secret, in hex.
    hash: String,
}

impl Token {
    /// Whether it is neither revoked nor expired at `now`.
    pub fn live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

impl Accounts {
    /// Every token, live or not, in the order they were created.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The live token `presented` (the whole `vgl_<id>_<secret>`) is, if any.
    pub fn authenticate_token(&self, presented: &str, now: Timestamp) -> Option<&Token> {
        let (id, secret) = presented.strip_prefix(PREFIX)?.split_once('_')?;
        let token = self.tokens.iter().find(|t| t.id == id)?;
        let hash = blake3::Hash::from_hex(&token.hash).ok()?;
        // `blake3::Hash` compares in constant time.
        (blake3::hash(secret.as_bytes()) == hash && token.live(now)).then_some(token)
    }
}

/// Creates a token called `name` with `role`, valid until `expires_at` (forever if `None`);
/// returns it and the whole token to show once.
pub fn create(
    data_dir: &Path,
    name: &str,
    role: Role,
    expires_at: Option<Timestamp>,
) -> anyhow::Result<(Token, String)> {
    check_name(name).context("invalid token name")?;
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let token = Token {
        id: id.clone(),
        name: name.to_string(),
        role,
        created_at: Timestamp::now(),
        expires_at,
        revoked_at: None,
        hash: blake3::hash(secret.as_bytes()).to_hex().to_string(),
    };
    modify(data_dir, |accounts| {
        if accounts.tokens.iter().any(|t| t.id == id) {
            bail!("token id {id} exists already; try again");
        }
        accounts.tokens.push(token.clone());
        Ok(())
    })?;
    Ok((token, format!("{PREFIX}{id}_{secret}")))
}

/// Revokes the token with id `id`.
pub fn revoke(data_dir: &Path, id: &str) -> anyhow::Result<Token> {
    modify(data_dir, |accounts| {
        let token = accounts
            .tokens
            .iter_mut()
            .find(|t| t.id == id)
            .with_context(|| format!("no token {id:?}"))?;
        if token.revoked_at.is_some() {
            bail!("token {id} ({}) is revoked already", token.name);
        }
        token.revoked_at = Some(Timestamp::now());
        Ok(token.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_authenticates_until_it_expires_or_is_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let now = Timestamp::now();
        let later = Timestamp::from_micros(now.as_micros() + 3_600_000_000);
        let (ci, whole) = create(d, "ci-export", Role::Viewer, Some(later)).unwrap();
        let (_, other) = create(d, "other", Role::Analyst, None).unwrap();
        assert!(whole.starts_with(&format!("vgl_{}_", ci.id)) && whole.len() == 4 + 16 + 1 + 43);

        let accounts = Accounts::load(d).unwrap();
        assert_eq!(
            accounts.authenticate_token(&whole, now).map(|t| t.role),
            Some(Role::Viewer)
        );
        assert_eq!(
            accounts.authenticate_token(&other, now).map(|t| t.role),
            Some(Role::Analyst)
        );
        assert!(
            accounts.authenticate_token(&whole, later).is_none(),
            "expired"
        );
        let forged = format!("{}x", &whole[..whole.len() - 1]);
        assert!(accounts.authenticate_token(&forged, now).is_none());
        assert!(accounts.authenticate_token("vgl_nonsense", now).is_none());
        assert!(accounts.authenticate_token("", now).is_none());

        revoke(d, &ci.id).unwrap();
        assert!(
            revoke(d, &ci.id)
                .unwrap_err()
                .to_string()
                .contains("revoked already")
        );
        assert_eq!(
            revoke(d, "0000").unwrap_err().to_string(),
            "no token \"0000\""
        );
        let accounts = Accounts::load(d).unwrap();
        assert!(
            accounts.authenticate_token(&whole, now).is_none(),
            "revoked"
        );
        assert!(accounts.authenticate_token(&other, now).is_some());
        let text = std::fs::read_to_string(d.join(crate::USERS_FILE)).unwrap();
        assert!(
            !text.contains(whole.rsplit('_').next().unwrap()),
            "the secret is never stored"
        );
    }
}
