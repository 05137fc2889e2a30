//! Console logins against an LDAP directory (`[console.ldap]`).
//!
//! The directory is reached over TLS (ldaps:// or ldap:// with StartTLS); plain ldap:// only
//! with `allow_plaintext`. A user is found with a search account (`bind_dn`) under
//! `user_base` by `user_filter`, the name escaped per RFC 4515, or their DN is built from
//! `user_dn_template` (the name escaped per RFC 4514). Their groups come from the entry's
//! `group_attribute` and, with `group_base`, a search for groups naming them; the highest role
//! `roles` gives any of them wins, and a user in none is refused. The password is checked by
//! binding as the user; an empty one is refused before any bind (an LDAP server takes an empty
//! password as an anonymous bind, which succeeds).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde::{Deserialize, Serialize};
use vigil_accounts::Role;

/// Result code of a bind with a wrong password (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;
/// How long a whole login (connecting, binds and searches) may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `[console.ldap]`: where the directory is and how its users and groups map to roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` (then with StartTLS).
    pub url: String,
    /// Talk plain `ldap://` without StartTLS (passwords cross the network in clear).
    #[serde(default)]
    pub allow_plaintext: bool,
    /// CA certificates (PEM) to trust for the directory; the system's without it.
    pub ca: Option<PathBuf>,
    /// The search account's DN; without it, users bind directly by `user_dn_template`.
    pub bind_dn: Option<String>,
    /// File holding the search account's password.
    pub bind_password_file: Option<PathBuf>,
    /// A user's DN with `{user}` for the name, for direct binds.
    pub user_dn_template: Option<String>,
    /// Where the search account looks for users.
    pub user_base: Option<String>,
    /// The filter finding a user, with `{user}` for the name.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// The attribute of a user's entry giving the name their session shows.
    #[serde(default = "default_name_attribute")]
    pub name_attribute: String,
    /// The attribute of a user's entry naming their groups.
    #[serde(default = "default_group_attribute")]
    pub group_attribute: String,
    /// Where to search for groups naming the user (none: only `group_attribute`).
    pub group_base: Option<String>,
    /// The filter finding a user's groups, with `{dn}` for the user's DN.
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    /// Group DN -> role.
    pub roles: BTreeMap<String, Role>,
}

fn default_user_filter() -> String {
    "(uid={user})".into()
}

fn default_name_attribute() -> String {
    "uid".into()
}

fn default_group_attribute() -> String {
    "memberOf".into()
}

fn default_group_filter() -> String {
    "(member={dn})".into()
}

/// How a user is found.
enum Lookup {
    /// Bind as the search account, then search.
    Search {
        dn: String,
        password: String,
        base: String,
    },
    /// Bind as the DN of the template.
    Direct { template: String },
}

/// A configured LDAP directory.
pub struct Directory {
    url: String,
    settings: LdapConnSettings,
    lookup: Lookup,
    user_filter: String,
    name_attribute: String,
    group_attribute: String,
    groups: Option<(String, String)>,
    /// Lower-case group DN -> role.
    roles: BTreeMap<String, Role>,
}

/// What the directory says of a login.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The password is right and the user's groups give this role.
    Granted {
        /// The user's name as the directory spells it (`name_attribute`).
        name: String,
        /// Their role.
        role: Role,
    },
    /// No such user, or a wrong or empty password.
    Denied,
    /// The password is right but no group of the user maps to a role.
    NoRole,
}

impl Directory {
    /// The directory of `config`, its files read and its settings checked.
    pub fn new(config: &LdapConfig) -> anyhow::Result<Directory> {
        let starttls = match config.url.split_once("://") {
            Some(("ldaps", host)) | Some(("ldap", host)) if host.is_empty() => {
                anyhow::bail!("console.ldap.url names no host")
            }
            Some(("ldaps", _)) => false,
            Some(("ldap", _)) => !config.allow_plaintext,
            _ => anyhow::bail!(
                "console.ldap.url must start with ldaps:// or ldap:// (with StartTLS), not {:?}",
                config.url
            ),
        };
        let lookup = match (&config.bind_dn, &config.user_dn_template) {
            (Some(dn), None) => {
                let file = config.bind_password_file.as_deref().context(
                    "console.ldap.bind_dn needs bind_password_file (the search account's password)",
                )?;
                Lookup::Search {
                    dn: dn.clone(),
                    password: super::trust::read_secret(file)?,
                    base: config
                        .user_base
                        .clone()
                        .context("console.ldap.bind_dn needs user_base (where users are)")?,
                }
            }
            (None, Some(template)) => {
                anyhow::ensure!(
                    template.contains("{user}"),
                    "console.ldap.user_dn_template must contain {{user}}"
                );
                Lookup::Direct {
                    template: template.clone(),
                }
            }
            _ => anyhow::bail!(
                "console.ldap needs either bind_dn (a search account) or user_dn_template (direct binds), not both"
            ),
        };
        anyhow::ensure!(
            config.user_filter.contains("{user}"),
            "console.ldap.user_filter must contain {{user}}"
        );
        anyhow::ensure!(
            !config.roles.is_empty(),
            "console.ldap.roles maps no group to a role: nobody could log in"
        );
        let tls = super::trust::client_config(config.ca.as_deref()).context("console.ldap.ca")?;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_config(tls)
            .set_starttls(starttls);
        if config.url.starts_with("ldap://") && !starttls {
            tracing::warn!(url = %config.url, "console.ldap.allow_plaintext: passwords cross the network to the directory in clear");
        }
        Ok(Directory {
            url: config.url.clone(),
            settings,
            lookup,
            user_filter: config.user_filter.clone(),
            name_attribute: config.name_attribute.clone(),
            group_attribute: config.group_attribute.clone(),
            groups: config
                .group_base
                .clone()
                .map(|base| (base, config.group_filter.clone())),
            roles: config
                .roles
                .iter()
                .map(|(dn, role)| (normalise(dn), *role))
                .collect(),
        })
    }

    /// Checks `user`'s `password` and finds their role.
    pub async fn authenticate(&self, user: &str, password: &str) -> anyhow::Result<Outcome> {
        if password.is_empty() || user.is_empty() {
            return Ok(Outcome::Denied);
        }
        let login = async {
            let (conn, mut ldap) = LdapConnAsync::with_settings(self.settings.clone(), &self.url)
                .await
                .with_context(|| format!("cannot reach the directory {}", self.url))?;
            ldap3::drive!(conn);
            let outcome = self.check(&mut ldap, user, password).await;
            let _ = ldap.unbind().await;
            outcome
        };
        tokio::time::timeout(TIMEOUT, login)
            .await
            .with_context(|| {
                format!(
                    "the directory {} did not answer within {TIMEOUT:?}",
                    self.url
                )
            })?
    }

    async fn check(&self, ldap: &mut Ldap, user: &str, password: &str) -> anyhow::Result<Outcome> {
        let attributes = [self.group_attribute.as_str(), self.name_attribute.as_str()];
        let (entry, groups) = match &self.lookup {
            Lookup::Search {
                dn: search_dn,
                password: search_password,
                base,
            } => {
                ldap.simple_bind(search_dn, search_password)
                    .await?
                    .success()
                    .context("the directory refused the search account (console.ldap.bind_dn)")?;
                let filter = self
                    .user_filter
                    .replace("{user}", &ldap3::ldap_escape(user));
                let (entries, _) = ldap
                    .search(base, Scope::Subtree, &filter, attributes)
                    .await?
                    .success()
                    .context("the user search failed")?;
                let mut entries = entries.into_iter();
                let (Some(entry), None) = (entries.next(), entries.next()) else {
                    return Ok(Outcome::Denied);
                };
                let entry = SearchEntry::construct(entry);
                // The groups are read as the search account, before the user's own bind.
                let groups = self.groups(ldap, &entry).await?;
                if !bind(ldap, &entry.dn, password).await? {
                    return Ok(Outcome::Denied);
                }
                (entry, groups)
            }
            Lookup::Direct { template } => {
                let dn = template.replace("{user}", &ldap3::dn_escape(user));
                if !bind(ldap, &dn, password).await? {
                    return Ok(Outcome::Denied);
                }
                let (entries, _) = ldap
                    .search(&dn, Scope::Base, "(objectClass=*)", attributes)
                    .await?
                    .success()
                    .context("cannot read the user's own entry")?;
                let entry = entries
                    .into_iter()
                    .next()
                    .context("the user's own entry is not readable")?;
                let entry = SearchEntry::construct(entry);
                let groups = self.groups(ldap, &entry).await?;
                (entry, groups)
            }
        };
        let role = groups
            .iter()
            .filter_map(|g| self.roles.get(&normalise(g)).copied())
            .max();
        let name = values(&entry, &self.name_attribute)
            .next()
            .map_or(user, String::as_str);
        Ok(role.map_or(Outcome::NoRole, |role| Outcome::Granted {
            name: name.to_string(),
            role,
        }))
    }

    /// The DNs of the groups of the user `entry`: its group attribute's values, and with
    /// `group_base` the groups a search finds naming it.
    async fn groups(&self, ldap: &mut Ldap, entry: &SearchEntry) -> anyhow::Result<Vec<String>> {
        let mut groups: Vec<String> = values(entry, &self.group_attribute).cloned().collect();
        if let Some((base, filter)) = &self.groups {
            let filter = filter.replace("{dn}", &ldap3::ldap_escape(entry.dn.as_str()));
            let (entries, _) = ldap
                .search(base, Scope::Subtree, &filter, ["1.1"])
                .await?
                .success()
                .context("the group search failed")?;
            groups.extend(entries.into_iter().map(|e| SearchEntry::construct(e).dn));
        }
        Ok(groups)
    }
}

/// The values of `entry`'s attribute `name` (in any case).
fn values<'a>(entry: &'a SearchEntry, name: &'a str) -> impl Iterator<Item = &'a String> {
    entry
        .attrs
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, values)| values)
}

/// Whether binding as `dn` with `password` succeeds (false for wrong credentials).
async fn bind(ldap: &mut Ldap, dn: &str, password: &str) -> anyhow::Result<bool> {
    let result = ldap.simple_bind(dn, password).await?;
    match result.rc {
        0 => Ok(true),
        INVALID_CREDENTIALS => Ok(false),
        _ => Err(anyhow::anyhow!(
            "the directory refused a user bind: {result}"
        )),
    }
}

/// A DN compared without regard to case or spaces after separators.
fn normalise(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a directory configured by `toml` (with one role).
    fn refused(toml: &str) -> String {
        let toml = format!("{toml}\n[roles]\n\"cn=soc,dc=test\" = \"analyst\"\n");
        let config: LdapConfig = toml::from_str(&toml).unwrap_or_else(|e| panic!("{e}"));
        match Directory::new(&config) {
            Ok(_) => panic!("accepted: {toml}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let direct = "user_dn_template = \"uid={user},dc=test\"";
        assert_eq!(
            refused(&format!("url = \"http://ldap.test\"\n{direct}")),
            "console.ldap.url must start with ldaps:// or ldap:// (with StartTLS), not \"http://ldap.test\""
        );
        assert_eq!(
            refused(&format!("url = \"ldaps://\"\n{direct}")),
            "console.ldap.url names no host"
        );
        assert_eq!(
            refused("url = \"ldaps://ldap.test\"\nuser_dn_template = \"uid=x,dc=test\""),
            "console.ldap.user_dn_template must contain {user}"
        );
        assert_eq!(
            refused(&format!(
                "url = \"ldaps://ldap.test\"\n{direct}\nbind_dn = \"cn=s\""
            )),
            "console.ldap needs either bind_dn (a search account) or user_dn_template (direct binds), not both"
        );
        assert_eq!(
            refused("url = \"ldaps://ldap.test\"\nbind_dn = \"cn=s\""),
            "console.ldap.bind_dn needs bind_password_file (the search account's password)"
        );
    }

    #[test]
    fn group_names_compare_without_case_or_spaces() {
        assert_eq!(
            normalise("CN=Admins, ou=Groups,DC=test"),
            "cn=admins,ou=groups,dc=test"
        );
    }
}
