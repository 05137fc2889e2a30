//! Response scripts the core may ask an edge to run (`RunResponse` commands): only those
//! configured as `[[response]]`, run directly (no shell) with the command's arguments, each of
//! which must match the response's `allowed_args` pattern whole and, unless `allow_options`,
//! must not look like an option (`-x`, `--x`). A response runs as its configured `user` when
//! there is one, is killed after its `timeout`, and runs beside forwarding, never in its way.
//! A program any user may write is refused when the configuration loads. The exit status and
//! the first kilobyte of output are the command's result.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use vigil_analysis::config::duration_text;

/// A configured response script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    /// The name commands use.
    pub name: String,
    /// The program to run.
    pub program: PathBuf,
    /// Arguments given before the command's own.
    #[serde(default)]
    pub fixed_args: Vec<String>,
    /// Pattern every argument of a command must match whole (default: addresses, host names
    /// and plain words only).
    #[serde(default = "default_allowed")]
    pub allowed_args: String,
    /// Most arguments a command may give.
    #[serde(default = "default_max_args")]
    pub max_args: usize,
    /// The program is killed after this long.
    #[serde(default = "default_timeout", with = "duration_text")]
    pub timeout: Duration,
    /// Let arguments start with `-` (options of the program): off, so a command cannot turn
    /// an address into `--config=/tmp/evil`.
    #[serde(default)]
    pub allow_options: bool,
    /// Run as this user (a name from /etc/passwd, or `UID` or `UID:GID`) instead of the edge's
    /// own, e.g. an unprivileged account allowed only what the script needs (needs the edge to
    /// start as root).
    #[serde(default)]
    pub user: Option<String>,
}

/// `user` as (uid, gid): `UID`, `UID:GID`, or a name looked up in `passwd` (an /etc/passwd file).
fn resolve_user(user: &str, passwd: &str) -> Result<(u32, u32), String> {
    let number = |text: &str| text.parse::<u32>().ok();
    if let Some((uid, gid)) = user.split_once(':') {
        return match (number(uid), number(gid)) {
            (Some(uid), Some(gid)) => Ok((uid, gid)),
            _ => Err(format!("{user:?} is not UID:GID")),
        };
    }
    if let Some(uid) = number(user) {
        return Ok((uid, uid));
    }
    let text = std::fs::read_to_string(passwd).map_err(|e| format!("cannot read {passwd}: {e}"))?;
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 4 && fields[0] == user)
                .then(|| Some((number(fields[2])?, number(fields[3])?)))
                .flatten()
        })
        .next()
        .ok_or_else(|| format!("no user {user:?} in {passwd}"))
}

fn default_allowed() -> String {
    "[A-Za-z0-9_.:/@-]{1,256}".into()
}

fn default_max_args() -> usize {
    8
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// A configured response, ready to run.
#[derive(Debug)]
struct Entry {
    config: ResponseConfig,
    allowed: regex::Regex,
    /// The user and group to run as.
    run_as: Option<(u32, u32)>,
}

/// The configured responses, with their patterns compiled and users resolved.
#[derive(Debug, Default)]
pub struct Responses {
    entries: Vec<Entry>,
}

impl Responses {
    /// Compiles the patterns, resolves the users and checks the programs; an error names the
    /// response and what is wrong with it.
    pub fn new(configs: &[ResponseConfig]) -> Result<Responses, String> {
        let mut entries = Vec::new();
        for c in configs {
            let allowed = regex::Regex::new(&format!("^(?:{})$", c.allowed_args))
                .map_err(|e| format!("response {:?}: allowed_args: {e}", c.name))?;
            vigil_analysis::trust::refuse_world_writable(&c.program, "response program")
                .map_err(|e| format!("response {:?}: {e:#}", c.name))?;
            let run_as = match &c.user {
                Some(user) => Some(
                    resolve_user(user, "/etc/passwd")
                        .map_err(|e| format!("response {:?}: user: {e}", c.name))?,
                ),
                None => None,
            };
            entries.push(Entry {
                config: c.clone(),
                allowed,
                run_as,
            });
        }
        Ok(Responses { entries })
    }

    /// Runs response `name` with `args`; returns whether it succeeded and what happened.
    pub async fn run(&self, name: &str, args: &[String]) -> (bool, String) {
        let Some(entry) = self.entries.iter().find(|e| e.config.name == name) else {
            return (false, format!("no response named {name:?}"));
        };
        let config = &entry.config;
        if args.len() > config.max_args {
            return (
                false,
                format!("{} arguments, at most {}", args.len(), config.max_args),
            );
        }
        if let Some(bad) = args.iter().find(|a| !entry.allowed.is_match(a)) {
            return (
                false,
                format!("argument {bad:?} does not match allowed_args"),
            );
        }
        if !config.allow_options
            && let Some(bad) = args.iter().find(|a| a.starts_with('-'))
        {
            return (
                false,
                format!("argument {bad:?} looks like an option and allow_options is off"),
            );
        }
        let mut command = tokio::process::Command::new(&config.program);
        command
            .args(&config.fixed_args)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some((uid, gid)) = entry.run_as {
            // Dropping from root also clears the supplementary groups.
            command.uid(uid).gid(gid);
        }
        let child = command.output();
        match tokio::time::timeout(config.timeout, child).await {
            Err(_) => (false, format!("killed after {:?}", config.timeout)),
            Ok(Err(e)) => (
                false,
                format!("cannot run {}: {e}", config.program.display()),
            ),
            Ok(Ok(out)) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                let text: String = text.chars().take(1024).collect();
                (
                    out.status.success(),
                    format!("{}: {}", out.status, text.trim()),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_by_name_or_number() {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nvigil-response:x:990:985::/nonexistent:/usr/sbin/nologin\n",
        )
        .expect("write");
        let passwd = passwd.to_str().expect("utf-8 path");
        assert_eq!(resolve_user("vigil-response", passwd), Ok((990, 985)));
        assert_eq!(resolve_user("65534", passwd), Ok((65534, 65534)));
        assert_eq!(resolve_user("1000:1001", passwd), Ok((1000, 1001)));
        assert_eq!(
            resolve_user("nobody-here", passwd),
            Err(format!("no user \"nobody-here\" in {passwd}"))
        );
        assert_eq!(
            resolve_user("1000:x", passwd),
            Err("\"1000:x\" is not UID:GID".to_string())
        );
    }

    fn response(program: &str) -> ResponseConfig {
        ResponseConfig {
            name: "say".into(),
            program: program.into(),
            fixed_args: Vec::new(),
            allowed_args: default_allowed(),
            max_args: default_max_args(),
            timeout: Duration::from_secs(5),
            allow_options: false,
            user: None,
        }
    }

    #[tokio::test]
    async fn option_like_arguments_are_refused_unless_allowed() {
        let responses = Responses::new(&[response("/bin/echo")]).expect("valid");
        let (ok, detail) = responses.run("say", &["--config".into()]).await;
        assert!(!ok);
        assert_eq!(
            detail,
            "argument \"--config\" looks like an option and allow_options is off"
        );
        let allowing = Responses::new(&[ResponseConfig {
            allow_options: true,
            ..response("/bin/echo")
        }])
        .expect("valid");
        let (ok, detail) = allowing.run("say", &["-n".into(), "x".into()]).await;
        assert!(ok, "{detail}");
    }

    #[test]
    fn a_program_anyone_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let program = dir.path().join("block.sh");
        std::fs::write(&program, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err =
            Responses::new(&[response(program.to_str().expect("utf-8"))]).expect_err("refused");
        assert!(
            err.contains("response program") && err.contains("writable by every user"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_response_runs_as_its_user() {
        let responses = Responses::new(&[ResponseConfig {
            user: Some("65534:65534".into()),
            ..response("/usr/bin/id")
        }])
        .expect("valid");
        let (ok, detail) = responses.run("say", &[]).await;
        // Only root can switch users; elsewhere the spawn fails and says so.
        if std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n")
        {
            assert!(ok, "{detail}");
            assert!(detail.contains("uid=65534"), "{detail}");
        } else {
            assert!(!ok, "{detail}");
        }
    }
}
