//! Response scripts the core may ask an edge to run (`RunResponse` commands): only those
//! configured as `[[response]]`, run directly (no shell) with the command's arguments, each of
//! which must match the response's `allowed_args` pattern whole. The exit status and the first
//! kilobyte of output are the command's result.

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

/// The configured responses, with their patterns compiled.
#[derive(Debug, Default)]
pub struct Responses {
    entries: Vec<(ResponseConfig, regex::Regex)>,
}

impl Responses {
    /// Compiles the patterns; an invalid one is an error naming the response.
    pub fn new(configs: &[ResponseConfig]) -> Result<Responses, String> {
        let mut entries = Vec::new();
        for c in configs {
            let re = regex::Regex::new(&format!("^(?:{})$", c.allowed_args))
                .map_err(|e| format!("response {:?}: allowed_args: {e}", c.name))?;
            entries.push((c.clone(), re));
        }
        Ok(Responses { entries })
    }

    /// Runs response `name` with `args`; returns whether it succeeded and what happened.
    pub async fn run(&self, name: &str, args: &[String]) -> (bool, String) {
        let Some((config, allowed)) = self.entries.iter().find(|(c, _)| c.name == name) else {
            return (false, format!("no response named {name:?}"));
        };
        if args.len() > config.max_args {
            return (
                false,
                format!("{} arguments, at most {}", args.len(), config.max_args),
            );
        }
        if let Some(bad) = args.iter().find(|a| !allowed.is_match(a)) {
            return (
                false,
                format!("argument {bad:?} does not match allowed_args"),
            );
        }
        let child = tokio::process::Command::new(&config.program)
            .args(&config.fixed_args)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
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
