//! Secret values out of an event before it is stored or sent: each value a plugin marks secret
//! ([`Parsed::secrets`]) is replaced, in the raw line and in the event's text fields, by its
//! marker [`vigil_event::secret_marker`] (`[secret len=N fp:…]`: its length and its keyed
//! fingerprint), so equal secrets still correlate and the clear value is kept nowhere.

use std::borrow::Cow;

use vigil_event::secret_marker;
use vigil_plugins::cfg::Parsed;

/// The secret values of one match and their markers, longest value first (so that a secret
/// containing another is replaced whole).
pub struct Secrets<'p> {
    values: Vec<(&'p str, String)>,
}

impl<'p> Secrets<'p> {
    /// The secret values of `parsed`, fingerprinted with `key`.
    pub fn of(parsed: &'p Parsed, key: &[u8; 32]) -> Secrets<'p> {
        let mut values: Vec<(&'p str, String)> = parsed
            .fields
            .iter()
            .filter(|(k, v)| !v.is_empty() && parsed.secrets.contains(k))
            .map(|(_, v)| (v.as_str(), secret_marker(key, v)))
            .collect();
        values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        Secrets { values }
    }

    /// `text` with every occurrence of every secret value replaced by its marker, except that a
    /// value shorter than [`SHORT`] characters is replaced only where it stands alone (not glued
    /// to a letter, digit, `.` or `:`): such a value turns up by chance in dates, addresses and
    /// ports, and its marker gives it away anyway.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for (value, marker) in &self.values {
            if value.chars().count() < SHORT {
                if let Some(alone) = replace_alone(&out, value, marker) {
                    out = Cow::Owned(alone);
                }
            } else if out.contains(value) {
                out = Cow::Owned(out.replace(value, marker));
            }
        }
        out
    }
}

/// Secrets shorter than this many characters are replaced only where they stand alone.
pub const SHORT: usize = 4;

/// `text` with the occurrences of `value` that stand alone replaced by `marker`; `None` if
/// there are none.
fn replace_alone(text: &str, value: &str, marker: &str) -> Option<String> {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == ':');
    let mut out = String::new();
    let mut done = 0;
    for (at, _) in text.match_indices(value) {
        let before = text.get(..at).and_then(|t| t.chars().next_back());
        let after = text.get(at + value.len()..).and_then(|t| t.chars().next());
        if glued(before) || glued(after) {
            continue;
        }
        out.push_str(text.get(done..at).unwrap_or_default());
        out.push_str(marker);
        done = at + value.len();
    }
    if done == 0 {
        return None;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(fields: &[(&'static str, &str)], secrets: &[&'static str]) -> Parsed {
        Parsed {
            plugin_id: 4003,
            rule: "r".into(),
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            occurrences: 1,
            secrets: secrets.to_vec(),
        }
    }

    #[test]
    fn every_occurrence_of_every_secret_becomes_its_marker() {
        let key = [7u8; 32];
        let p = parsed(
            &[
                ("username", "Hunter2!"),
                ("userdata1", "Hunter2"),
                ("userdata2", "x"),
            ],
            &["username", "userdata1"],
        );
        let secrets = Secrets::of(&p, &key);
        let long = vigil_event::secret_marker(&key, "Hunter2!");
        let short = vigil_event::secret_marker(&key, "Hunter2");
        assert_eq!(
            long,
            format!(
                "[secret len=8 {}]",
                vigil_event::secret_fingerprint(&key, "Hunter2!")
            )
        );
        assert_eq!(secrets.scrub("Hunter2!"), long);
        // The longer secret is replaced whole before the one it contains.
        assert_eq!(
            secrets.scrub("user Hunter2! then Hunter2 and Hunter2!"),
            format!("user {long} then {short} and {long}")
        );
        assert!(
            matches!(secrets.scrub("x"), Cow::Borrowed(_)),
            "userdata2 is not secret"
        );
        // A short secret is replaced where it stands alone, not in the digits of the date,
        // the address or the port.
        let digit = parsed(&[("username", "0")], &["username"]);
        let zero = vigil_event::secret_marker(&key, "0");
        let secrets = Secrets::of(&digit, &key);
        assert_eq!(
            secrets.scrub("Dec 10 08:24:40 sshd[2430]: Invalid user 0 from 10.0.0.1 port 50"),
            format!("Dec 10 08:24:40 sshd[2430]: Invalid user {zero} from 10.0.0.1 port 50")
        );
        assert_eq!(secrets.scrub("0"), zero);
        assert_eq!(secrets.scrub("user=0;"), format!("user={zero};"));
        assert!(matches!(secrets.scrub("10.0.0.1"), Cow::Borrowed(_)));
        // From four characters on, every occurrence, glued or not.
        let four = parsed(&[("username", "Ab1!")], &["username"]);
        let marker = vigil_event::secret_marker(&key, "Ab1!");
        assert_eq!(
            Secrets::of(&four, &key).scrub("user Ab1! xAb1!y"),
            format!("user {marker} x{marker}y")
        );
        // An empty value is no secret to replace.
        let empty = parsed(&[("username", "")], &["username"]);
        assert_eq!(Secrets::of(&empty, &key).scrub("a b"), "a b");
    }
}
