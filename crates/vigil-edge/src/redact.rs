//! Secret values out of an event before it is stored or sent: each value a plugin marks secret
//! ([`Parsed::secrets`]) is replaced, in its field and everywhere in the raw line, by its
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

    /// `text` with every occurrence of every secret value replaced by its marker.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for (value, marker) in &self.values {
            if out.contains(value) {
                out = Cow::Owned(out.replace(value, marker));
            }
        }
        out
    }
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
        // An empty value is no secret to replace.
        let empty = parsed(&[("username", "")], &["username"]);
        assert_eq!(Secrets::of(&empty, &key).scrub("a b"), "a b");
    }
}
