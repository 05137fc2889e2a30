//! Secret fields: event keys whose values must never be stored in clear.
//!
//! A rule (or `[DEFAULT]`) marks them with two Vigil extension keys, each a comma-separated
//! list of event keys:
//!
//! * `secret = KEY, ...`: the value is always secret;
//! * `secret_unless_user_name = KEY, ...`: the value is secret unless it has the shape of a
//!   user name ([`is_user_name`]). This is for the user name of a failed login to an unknown
//!   account, where a password typed at the user name prompt ends up.
//!
//! `password` is always secret. [`Plugin::parse`](super::Plugin::parse) lists the secret keys
//! of an event in [`Parsed::secrets`](super::Parsed::secrets); the edge replaces their values,
//! in their fields and everywhere in the raw line, before the event is stored or sent.

/// When a marked key's value is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// Always.
    Always,
    /// When the value does not have the shape of a user name.
    UnlessUserName,
}

impl When {
    /// The rule key that marks keys with this condition.
    pub(crate) fn option(self) -> &'static str {
        match self {
            When::Always => "secret",
            When::UnlessUserName => "secret_unless_user_name",
        }
    }

    /// Whether `value` (not empty) is secret under this condition.
    pub(crate) fn holds(self, value: &str) -> bool {
        match self {
            When::Always => true,
            When::UnlessUserName => !is_user_name(value),
        }
    }
}

/// Longest user name [`is_user_name`] accepts (shadow's `useradd` limit).
pub const MAX_USER_NAME: usize = 32;

/// Whether `value` has the shape of a Linux user name: Debian's default `NAME_REGEX`
/// `^[a-z_][a-z0-9_.-]*\$?$` (lower-case letters, digits, `_`, `.` and `-`, not starting with
/// a digit, `.` or `-`; a final `$` for machine accounts), at most [`MAX_USER_NAME`]
/// characters. `admin`, `postgres1` and `hunter2` pass; `Hunter2`, `123456`, `p@ss` and
/// anything with a space do not.
pub fn is_user_name(value: &str) -> bool {
    let name = value.strip_suffix('$').unwrap_or(value);
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    value.len() <= MAX_USER_NAME
        && (first.is_ascii_lowercase() || first == b'_')
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfg::{AgentSettings, ParseContext, Plugin};

    const LINUX_AUTH: &str = include_str!("../../../../plugins/vigil-linux-auth.cfg");

    /// The rule and the secret keys of `line` under `plugin`.
    fn secrets_of(plugin: &Plugin, line: &str) -> (String, Vec<&'static str>) {
        let parsed = plugin
            .parse(line, &ParseContext::for_year(2026))
            .expect("parses");
        (parsed.rule.to_string(), parsed.secrets)
    }

    #[test]
    fn the_linux_auth_plugin_keeps_user_names_and_marks_passwords_typed_as_one() {
        let (plugin, warnings) = Plugin::from_text(
            "vigil-linux-auth.cfg",
            LINUX_AUTH,
            &AgentSettings::default(),
        )
        .expect("loads");
        assert_eq!(warnings, vec![]);
        let cases = [
            (
                "Dec  7 10:00:01 web1 sshd[42]: Invalid user S3cr3t-Hunter2! from 198.51.100.7 port 50022",
                "0003 - sshd - invalid user",
                true,
            ),
            (
                "Dec  7 10:00:03 web1 sshd[42]: Failed password for invalid user S3cr3t-Hunter2! from 198.51.100.7 port 50022 ssh2",
                "0002 - sshd - failed",
                true,
            ),
            (
                "Dec  7 10:00:03 web1 sshd[42]: Failed password for invalid user hunter2 from 198.51.100.7 port 50022 ssh2",
                "0002 - sshd - failed",
                false,
            ),
            (
                "Dec  7 10:00:04 web1 sshd[42]: Failed password for root from 198.51.100.7 port 50023 ssh2",
                "0002 - sshd - failed",
                false,
            ),
            (
                "Dec  7 10:00:05 web1 sshd[42]: Connection closed by invalid user 123456 198.51.100.7 port 50024 [preauth]",
                "0012 - sshd - connection closed",
                true,
            ),
            (
                "Dec  7 10:00:06 web1 sshd[42]: input_userauth_request: invalid user Passw0rd [preauth]",
                "0020 - sshd - userauth request of invalid user",
                true,
            ),
            (
                "Dec  7 10:00:07 web1 sshd(pam_unix)[42]: check pass; user Winter2026",
                "0033 - pam_unix - check pass",
                true,
            ),
            (
                "Dec  7 10:00:08 web1 sshd[42]: Accepted password for Alice from 198.51.100.7 port 50025 ssh2",
                "0001 - sshd - accepted",
                false,
            ),
        ];
        for (line, rule, secret) in cases {
            let want: Vec<&str> = if secret { vec!["username"] } else { vec![] };
            assert_eq!(
                secrets_of(&plugin, line),
                (rule.to_string(), want),
                "{line}"
            );
        }
    }

    #[test]
    fn secret_options_mark_keys_password_always_and_unknown_names_are_warned() {
        let cfg = "[DEFAULT]\nplugin_id=9\n[config]\nsource=log\n[r]\nevent_type=event\nregexp=(?P<u>\\S+) (?P<p>\\S+) (?P<t>\\S+)\nplugin_sid=1\nusername={$u}\npassword={$p}\nuserdata1={$t}\nsecret=userdata1, filename\nsecret_unless_user_name=username\n";
        let (plugin, warnings) =
            Plugin::from_text("t.cfg", cfg, &AgentSettings::default()).expect("loads");
        assert_eq!(
            warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "t.cfg:12: [r]: secret names \"filename\", an event key this rule does not set; ignored"
            ]
        );
        assert_eq!(
            secrets_of(&plugin, "root pw token").1,
            ["password", "userdata1"]
        );
        assert_eq!(
            secrets_of(&plugin, "Root pw token").1,
            ["password", "userdata1", "username"]
        );
    }

    #[test]
    fn the_user_name_shape() {
        for name in [
            "admin",
            "postgres1",
            "hunter2",
            "elastic_user_7",
            "_apt",
            "john.doe",
            "web-1",
            "host1$",
            "a",
        ] {
            assert!(is_user_name(name), "{name:?} is a user name");
        }
        let long = "a".repeat(MAX_USER_NAME + 1);
        for not in [
            "",
            "$",
            "Hunter2",
            "123456",
            "p@ss",
            "S3cr3t-Hunter2!",
            "two words",
            "-x",
            ".x",
            "x$y",
            "ünï",
            long.as_str(),
        ] {
            assert!(!is_user_name(not), "{not:?} is not a user name");
        }
        assert!(is_user_name(&"a".repeat(MAX_USER_NAME)));
        assert!(When::UnlessUserName.holds("Hunter2") && !When::UnlessUserName.holds("root"));
        assert!(When::Always.holds("root"));
    }
}
