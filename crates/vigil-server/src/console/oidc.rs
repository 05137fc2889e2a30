//! Console logins through an OpenID Connect provider (`[console.oidc]`): the authorisation
//! code flow with PKCE (S256), `state` and `nonce`.
//!
//! [`Provider::begin`] sends the browser to the provider's authorisation endpoint (found by
//! discovery at `<issuer>/.well-known/openid-configuration`) and remembers the login in memory
//! for [`PENDING_FOR`], at most [`MAX_PENDING`] at once. [`Provider::finish`] takes the
//! provider's answer once (a `state` is forgotten when used), exchanges the code with its PKCE
//! verifier, checks the ID token (signed by a key of the provider's JWKS with RS256/384/512,
//! PS256/384/512, ES256/384 or EdDSA, its `iss`, `aud`, `exp` and the login's `nonce`) and
//! maps the `role_claim` values to the highest role `roles` gives.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vigil_accounts::Role;

use super::fetch::fetch;

/// How long a started login may wait for the provider's answer.
pub const PENDING_FOR: Duration = Duration::from_secs(10 * 60);
/// Most logins waiting for the provider's answer at once.
pub const MAX_PENDING: usize = 1024;
/// The callback's path, under the console's address.
pub const CALLBACK: &str = "/api/v1/oidc/callback";

/// `[console.oidc]`: the provider, this client, and how claims map to roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (https://).
    pub issuer: String,
    /// This console's client id at the provider.
    pub client_id: String,
    /// File holding the client secret (none: a public client, PKCE only).
    pub client_secret_file: Option<PathBuf>,
    /// Where the provider sends the browser back; by default
    /// `https://<the console's address as the browser reached it>/api/v1/oidc/callback`.
    pub redirect_url: Option<String>,
    /// The scopes asked for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim giving the user's name.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The ID token claim (a string or a list of strings) mapped to roles.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim value -> role.
    pub roles: BTreeMap<String, Role>,
    /// CA certificates (PEM) to trust for the provider; the system's without it.
    pub ca: Option<PathBuf>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into()]
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_role_claim() -> String {
    "groups".into()
}

/// What discovery tells of the provider.
#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// A login sent to the provider, waiting for its answer.
struct Pending {
    verifier: String,
    nonce: String,
    redirect_uri: String,
    started: Instant,
}

/// Who the provider says logged in.
#[derive(Debug)]
pub struct Identity {
    /// The user's name (the `username_claim`, else `sub`).
    pub name: String,
    /// The role their claims map to.
    pub role: Role,
}

/// A configured OpenID Connect provider and the logins in progress.
pub struct Provider {
    config: OidcConfig,
    secret: Option<String>,
    tls: Arc<rustls::ClientConfig>,
    metadata: tokio::sync::Mutex<Option<Arc<Metadata>>>,
    keys: tokio::sync::Mutex<Vec<Jwk>>,
    pending: Mutex<HashMap<String, Pending>>,
}

/// Signature algorithms accepted for ID tokens (never HMAC: its key would be the client's).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Provider {
    /// The provider of `config`, its files read; the provider itself is asked at the first login.
    pub fn new(config: &OidcConfig) -> anyhow::Result<Provider> {
        anyhow::ensure!(
            config.issuer.starts_with("https://"),
            "console.oidc.issuer must be an https:// URL, not {:?}",
            config.issuer
        );
        anyhow::ensure!(
            !config.client_id.is_empty(),
            "console.oidc.client_id is empty"
        );
        anyhow::ensure!(
            config.scopes.iter().any(|s| s == "openid"),
            "console.oidc.scopes must include \"openid\""
        );
        anyhow::ensure!(
            !config.roles.is_empty(),
            "console.oidc.roles maps no claim value to a role: nobody could log in"
        );
        if let Some(url) = &config.redirect_url {
            anyhow::ensure!(
                url.starts_with("https://"),
                "console.oidc.redirect_url must be an https:// URL, not {url:?}"
            );
        }
        let secret = config
            .client_secret_file
            .as_deref()
            .map(super::trust::read_secret)
            .transpose()?;
        Ok(Provider {
            tls: super::trust::client_config(config.ca.as_deref()).context("console.oidc.ca")?,
            config: config.clone(),
            secret,
            metadata: tokio::sync::Mutex::new(None),
            keys: tokio::sync::Mutex::new(Vec::new()),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Starts a login from a browser that reached the console as `host`: the URL of the
    /// provider's authorisation endpoint to send it to.
    pub async fn begin(&self, host: &str) -> anyhow::Result<String> {
        let metadata = self.metadata().await?;
        let token = super::session::random_token;
        let (state, nonce, verifier) = (token()?, token()?, token()?);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()),
        );
        let redirect_uri = match &self.config.redirect_url {
            Some(url) => url.clone(),
            None => format!("https://{host}{CALLBACK}"),
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &self.config.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        {
            let now = Instant::now();
            let mut pending = self.lock();
            pending.retain(|_, p| now.duration_since(p.started) < PENDING_FOR);
            anyhow::ensure!(
                pending.len() < MAX_PENDING,
                "too many OpenID Connect logins in progress; try again in a few minutes"
            );
            pending.insert(
                state,
                Pending {
                    verifier,
                    nonce,
                    redirect_uri,
                    started: now,
                },
            );
        }
        let separator = if metadata.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!(
            "{}{separator}{query}",
            metadata.authorization_endpoint
        ))
    }

    /// Ends the login the provider answered with the callback's `query`: who logged in.
    pub async fn finish(&self, query: &str) -> anyhow::Result<Identity> {
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let state = params.get("state").context("the answer has no state")?;
        let pending = self
            .lock()
            .remove(state)
            .filter(|p| p.started.elapsed() < PENDING_FOR)
            .context("unknown, used or expired login (state)")?;
        if let Some(error) = params.get("error") {
            let description = params.get("error_description").map_or("", String::as_str);
            bail!("the provider refused the login: {error} {description}");
        }
        if let Some(iss) = params.get("iss") {
            // RFC 9207: an answer naming another issuer is a mix-up attack.
            anyhow::ensure!(
                *iss == self.config.issuer,
                "the answer comes from another issuer ({iss})"
            );
        }
        let code = params.get("code").context("the answer has no code")?;
        let metadata = self.metadata().await?;
        let id_token = self.exchange(&metadata, code, &pending).await?;
        let claims = self.verify(&metadata, &id_token, &pending.nonce).await?;
        self.identity(&claims)
    }

    /// The ID token the token endpoint gives for `code`.
    async fn exchange(
        &self,
        metadata: &Metadata,
        code: &str,
        pending: &Pending,
    ) -> anyhow::Result<String> {
        let (headers, form) = self.token_request(code, pending);
        let (status, body) = fetch(
            &self.tls,
            Method::POST,
            &metadata.token_endpoint,
            &headers,
            form,
        )
        .await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status != StatusCode::OK {
            bail!(
                "the token endpoint refused the code ({status}): {} {}",
                answer["error"].as_str().unwrap_or(""),
                answer["error_description"].as_str().unwrap_or("")
            );
        }
        answer["id_token"]
            .as_str()
            .map(str::to_string)
            .context("the token endpoint gave no id_token")
    }

    /// The headers and form of the token request redeeming `code` (with the client secret
    /// by HTTP Basic, or the client id alone for a public client).
    fn token_request(
        &self,
        code: &str,
        pending: &Pending,
    ) -> (Vec<(header::HeaderName, String)>, Vec<u8>) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &pending.redirect_uri)
            .append_pair("code_verifier", &pending.verifier);
        let mut headers = vec![(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".to_string(),
        )];
        match &self.secret {
            Some(secret) => {
                // RFC 6749 2.3.1: both form-encoded, then Basic.
                let encode =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!("{}:{}", encode(&self.config.client_id), encode(secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.push((header::AUTHORIZATION, format!("Basic {basic}")));
            }
            None => {
                form.append_pair("client_id", &self.config.client_id);
            }
        }
        (headers, form.finish().into_bytes())
    }

    /// The claims of `id_token` once its signature, issuer, audience, expiry and nonce check.
    async fn verify(
        &self,
        metadata: &Metadata,
        id_token: &str,
        nonce: &str,
    ) -> anyhow::Result<serde_json::Map<String, Value>> {
        let head = jsonwebtoken::decode_header(id_token).context("the ID token is malformed")?;
        if !ALGORITHMS.contains(&head.alg) {
            bail!(
                "the ID token is signed with {:?}, which is not accepted",
                head.alg
            );
        }
        let key = self.key(metadata, head.kid.as_deref()).await?;
        let mut validation = Validation::new(head.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 60;
        let token =
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(id_token, &key, &validation)
                .context("the ID token does not verify")?;
        let claims = token.claims;
        let given = claims.get("nonce").and_then(Value::as_str);
        if !given.is_some_and(|n| super::auth::same_secret(n.as_bytes(), nonce.as_bytes())) {
            bail!("the ID token's nonce is not this login's");
        }
        Ok(claims)
    }

    /// The key `kid` of the provider's JWKS (fetched again once when it is not known, as
    /// after a key rotation); without `kid`, the only key.
    async fn key(&self, metadata: &Metadata, kid: Option<&str>) -> anyhow::Result<DecodingKey> {
        let mut keys = self.keys.lock().await;
        for fresh in [false, true] {
            if fresh || keys.is_empty() {
                *keys = self.jwks(metadata).await?;
            }
            let found = match kid {
                Some(kid) => keys
                    .iter()
                    .find(|k| k.common.key_id.as_deref() == Some(kid)),
                None if keys.len() == 1 => keys.first(),
                None => None,
            };
            if let Some(jwk) = found {
                return DecodingKey::from_jwk(jwk).context("unusable key in the provider's JWKS");
            }
        }
        bail!("no key {kid:?} in the provider's JWKS")
    }

    /// The provider's signing keys (those this client can read).
    async fn jwks(&self, metadata: &Metadata) -> anyhow::Result<Vec<Jwk>> {
        let (status, body) =
            fetch(&self.tls, Method::GET, &metadata.jwks_uri, &[], Vec::new()).await?;
        anyhow::ensure!(status == StatusCode::OK, "the JWKS answered {status}");
        let set: Value = serde_json::from_slice(&body).context("the JWKS is not JSON")?;
        let keys = set["keys"].as_array().context("the JWKS has no keys")?;
        Ok(keys
            .iter()
            .filter(|k| k["use"].as_str().is_none_or(|u| u == "sig"))
            .filter_map(|k| serde_json::from_value(k.clone()).ok())
            .collect())
    }

    /// The provider's metadata, found by discovery at the first use.
    async fn metadata(&self) -> anyhow::Result<Arc<Metadata>> {
        let mut cached = self.metadata.lock().await;
        if let Some(metadata) = &*cached {
            return Ok(metadata.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let (status, body) = fetch(&self.tls, Method::GET, &url, &[], Vec::new()).await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "discovery at {url} answered {status}"
        );
        let metadata: Metadata = serde_json::from_slice(&body)
            .with_context(|| format!("bad discovery document at {url}"))?;
        anyhow::ensure!(
            metadata.issuer == self.config.issuer,
            "the provider calls itself {:?}, not console.oidc.issuer {:?}",
            metadata.issuer,
            self.config.issuer
        );
        let metadata = Arc::new(metadata);
        *cached = Some(metadata.clone());
        Ok(metadata)
    }

    /// The user's name and role from verified `claims`.
    fn identity(&self, claims: &serde_json::Map<String, Value>) -> anyhow::Result<Identity> {
        let name = claims
            .get(&self.config.username_claim)
            .or_else(|| claims.get("sub"))
            .and_then(Value::as_str)
            .context("the ID token names nobody (no username claim nor sub)")?;
        vigil_accounts::check_name(name)?;
        let values: Vec<&str> = match claims.get(&self.config.role_claim) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let role = values
            .iter()
            .filter_map(|v| self.config.roles.get(*v).copied())
            .max()
            .with_context(|| {
                format!(
                    "{name}'s {} claim maps to no role in console.oidc.roles",
                    self.config.role_claim
                )
            })?;
        Ok(Identity {
            name: name.to_string(),
            role,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a provider configured by `toml` (with one role).
    fn refused(toml: &str) -> String {
        let toml = format!("client_id = \"vigil\"\n{toml}\n[roles]\nsoc = \"analyst\"\n");
        let config: OidcConfig = toml::from_str(&toml).unwrap_or_else(|e| panic!("{e}"));
        match Provider::new(&config) {
            Ok(_) => panic!("accepted: {toml}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            refused("issuer = \"http://sso.test\""),
            "console.oidc.issuer must be an https:// URL, not \"http://sso.test\""
        );
        assert_eq!(
            refused("issuer = \"https://sso.test\"\nscopes = [\"profile\"]"),
            "console.oidc.scopes must include \"openid\""
        );
        assert_eq!(
            refused("issuer = \"https://sso.test\"\nredirect_url = \"http://vigil.test/cb\""),
            "console.oidc.redirect_url must be an https:// URL, not \"http://vigil.test/cb\""
        );
        assert!(
            refused("issuer = \"https://sso.test\"\nclient_secret_file = \"/nonexistent/secret\"")
                .starts_with("cannot read the secret file /nonexistent/secret")
        );
    }
}
