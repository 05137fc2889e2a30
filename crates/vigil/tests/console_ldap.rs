//! Console logins against a real OpenLDAP directory (Debian's slapd, started by the test):
//! over StartTLS with a search account and group search, and by direct binds in plaintext
//! reading the memberOf overlay's groups.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use serde_json::{Value, json};

use common::console::{ConsoleClient, user};
use common::slapd::{SUFFIX, Slapd};
use common::{exe, pki};
use vigil::process::{ServerProcess, loopback_config};

/// The directory: a search account, users and groups (the mapped `analysts`, `admins` and the
/// unmapped `outsiders`).
fn entries() -> String {
    let person = |uid: &str| {
        format!(
            "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nuserPassword: {uid}-Pass-1\n\n"
        )
    };
    let group = |cn: &str, members: &[&str]| {
        let mut text =
            format!("dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {cn}\n");
        for m in members {
            text.push_str(&format!("member: uid={m},ou=people,{SUFFIX}\n"));
        }
        text + "\n"
    };
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: vigil\ndc: vigil\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: cn=search,{SUFFIX}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: search\nuserPassword: Search-Pass-1\n\n"
    );
    for uid in ["dave", "erin", "frank", "gina"] {
        ldif.push_str(&person(uid));
    }
    ldif.push_str(&group("analysts", &["dave", "erin", "gina"]));
    ldif.push_str(&group("admins", &["erin"]));
    ldif.push_str(&group("outsiders", &["frank"]));
    ldif
}

const ROLES: &str = "[console.ldap.roles]
\"cn=analysts,ou=groups,dc=vigil,dc=test\" = \"analyst\"
\"CN=Admins, ou=groups,dc=vigil,dc=test\" = \"admin\"
";

/// A started directory (its certificate from a test CA) and its CA's file.
fn directory(tmp: &Path) -> (Slapd, std::path::PathBuf) {
    let pki = pki::create(&tmp.join("pki"));
    let slapd = Slapd::start(&tmp.join("slapd"), &pki.server_cert, &pki.server_key);
    slapd.add(&entries());
    (slapd, pki.ca_cert)
}

fn problem(status: u16, title: &str, detail: &str) -> Value {
    json!({"type": "about:blank", "title": title, "status": status, "detail": detail})
}

/// How many connections the directory has accepted.
fn connections(slapd: &Slapd) -> usize {
    slapd.log_lines(" ACCEPT ").len()
}

#[test]
fn directory_logins_over_starttls_with_a_search_account() {
    let tmp = tempfile::tempdir().unwrap();
    let (slapd, ca) = directory(tmp.path());
    let dir = tmp.path().join("vigil-data");
    user(
        &dir,
        &["add", "alice", "--role", "analyst"],
        "Correct-Horse-7\n",
    );
    user(
        &dir,
        &["add", "gina", "--role", "viewer"],
        "Staple-Battery-8\n",
    );
    user(&dir, &["disable", "gina"], "");
    let secret = tmp.path().join("search.pw");
    std::fs::write(&secret, "Search-Pass-1\n").unwrap();
    let ldap = format!(
        "[console.ldap]
url = \"ldap://{}\"
ca = {ca:?}
bind_dn = \"cn=search,{SUFFIX}\"
bind_password_file = {secret:?}
user_base = \"ou=people,{SUFFIX}\"
group_base = \"ou=groups,{SUFFIX}\"
{ROLES}",
        slapd.addr
    );
    let config = loopback_config(&dir, "", &ldap);
    let server = ServerProcess::start(&exe(), &dir, &config).unwrap();
    let addr = server.console_addr().unwrap();
    let tls = ConsoleClient::new(&dir, addr);

    let methods = tls.request("GET", "/api/v1/login/methods", &[], "");
    assert_eq!(
        methods.json(),
        json!({"password": true, "ldap": true, "oidc": false})
    );

    // A directory user gets a session with their group's role; the highest of several wins.
    for (name, role) in [("dave", "analyst"), ("erin", "admin")] {
        let ok = tls.login(name, &format!("{name}-Pass-1"));
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["username"], name);
        assert_eq!(ok.json()["role"], role);
        let cookie = ok
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let who = tls.request("GET", "/api/v1/session", &[("Cookie", &cookie)], "");
        assert_eq!(who.status, 200, "{}", who.body);
        let csrf = ok.json()["csrf_token"].clone();
        assert_eq!(
            who.json(),
            json!({"username": name, "role": role, "csrf_token": csrf})
        );
    }

    // Local accounts come first.
    let local = tls.login("alice", "Correct-Horse-7");
    assert_eq!(local.json()["role"], "analyst");

    let wrong = problem(401, "Unauthorized", "wrong user name or password");
    let bad = tls.login("dave", "not-his");
    assert_eq!((bad.status, bad.json()), (401, wrong.clone()));

    // Right password, but no group of the user maps to a role.
    let outsider = tls.login("frank", "frank-Pass-1");
    assert_eq!(
        (outsider.status, outsider.json()),
        (
            403,
            problem(
                403,
                "Forbidden",
                "no role is granted to this user: none of their directory groups is in console.ldap.roles"
            )
        )
    );

    // An empty password (an anonymous bind to LDAP) is refused without asking the directory.
    let before = connections(&slapd);
    let empty = tls.login("dave", "");
    assert_eq!((empty.status, empty.json()), (401, wrong.clone()));
    assert_eq!(connections(&slapd), before);

    // A disabled local account is not overridden by the directory's account of that name.
    let gina = tls.login("gina", "gina-Pass-1");
    assert_eq!((gina.status, gina.json()), (401, wrong.clone()));
    assert_eq!(connections(&slapd), before);

    // Filter syntax in the name is escaped (RFC 4515): it matches nobody.
    let injection = tls.login("*)(uid=*", "dave-Pass-1");
    assert_eq!((injection.status, injection.json()), (401, wrong.clone()));
    assert_eq!(
        slapd.log_lines(r#"filter="(uid=\2A\29\28uid=\2A)""#).len(),
        1,
        "{:?}",
        slapd.log_lines("SRCH base=\"ou=people")
    );

    // The session shows the name as the directory spells it (LDAP matches without case),
    // and that spelling must not be a local account's either.
    let upper = tls.login("DAVE", "dave-Pass-1");
    assert_eq!(upper.status, 200, "{}", upper.body);
    assert_eq!(upper.json()["username"], "dave");
    // Failures count towards the login throttle as local ones do: the fifth from this address
    // locks it, and the directory is not asked again.
    let fifth = tls.login("GINA", "gina-Pass-1");
    assert_eq!((fifth.status, fifth.json()), (401, wrong));
    let before = connections(&slapd);
    let locked = tls.login("dave", "dave-Pass-1");
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(connections(&slapd), before);

    for (method, outcome, n) in [
        ("ldap", "success", 3.0),
        ("ldap", "failure", 4.0),
        ("password", "locked", 1.0),
        ("ldap", "no_role", 1.0),
        ("local", "success", 1.0),
        ("local", "failure", 1.0),
    ] {
        let series =
            format!("vigil_console_logins_total{{method=\"{method}\",outcome=\"{outcome}\"}}");
        assert_eq!(server.metric_series(&series).unwrap(), n, "{series}");
    }
}

#[test]
fn direct_binds_in_plaintext_read_the_memberof_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let (slapd, _) = directory(tmp.path());
    let dir = tmp.path().join("vigil-data");
    let ldap = format!(
        "[console.ldap]
url = \"ldap://{}\"
allow_plaintext = true
user_dn_template = \"uid={{user}},ou=people,{SUFFIX}\"
{ROLES}",
        slapd.addr
    );
    let config = loopback_config(&dir, "", &ldap);
    let server = ServerProcess::start(&exe(), &dir, &config).unwrap();
    let addr = server.console_addr().unwrap();
    let tls = ConsoleClient::new(&dir, addr);

    let ok = tls.login("erin", "erin-Pass-1");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["role"], "admin");
    let bad = tls.login("erin", "dave-Pass-1");
    assert_eq!(bad.status, 401, "{}", bad.body);
    // A DN's special characters in the name are escaped (RFC 4514): no other entry is bound.
    let injection = tls.login("dave,ou=people", "dave-Pass-1");
    assert_eq!(injection.status, 401, "{}", injection.body);
    assert_eq!(
        slapd
            .log_lines(r#"BIND dn="uid=dave\2Cou\3Dpeople,ou=people,dc=vigil,dc=test" method=128"#)
            .len(),
        1,
        "{:?}",
        slapd.log_lines("BIND dn=")
    );
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains("console.ldap.allow_plaintext"), "{log}");
    assert_eq!(
        server
            .metric_series("vigil_console_logins_total{method=\"ldap\",outcome=\"success\"}")
            .unwrap(),
        1.0
    );
}
