//! The directives: `GET /api/v1/directives` and `/directives/{id}` (with the XML source of
//! that directive, read again from its file), enabling and disabling one (admin), and the dry
//! run (analyst): a stored or posted directive over the stored events of a time range, through
//! the replay path ([`vigil_analysis::analysis::replay_stored`]).
//!
//! Disabled directives are kept in `<data_dir>/directives-disabled.json` (a checksummed state
//! file); the core leaves them out whenever it loads its directives (at start and at each
//! reload), and a change takes effect through a reload.

// The helpers here answer with the problem response to send as their error.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_accounts::Role;
use vigil_analysis::correlation::{LoadedDirectives, Setup, load_directives};
use vigil_directives::{Directive, Rule};
use vigil_event::{Alarm, Timestamp};
use vigil_store::StateFile;

use super::auth::Principal;
use super::input::{Page, bad_request, json_body};
use super::openapi::Problem;
use super::{Console, problem};

/// The file of disabled directive ids in the data directory.
pub const DISABLED_FILE: &str = "directives-disabled.json";
/// Most events a dry run reads.
pub const DRY_RUN_MAX_EVENTS: u64 = 1_000_000;
/// Longest a dry run runs.
pub const DRY_RUN_MAX_TIME: Duration = Duration::from_secs(10);
/// Most alarm revisions a dry run answers with.
pub const DRY_RUN_MAX_ALARMS: usize = 1_000;
/// Dry runs at once; another waits for none and is refused (429).
static DRY_RUNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Serialises changes of [`DISABLED_FILE`].
static CHANGING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The directive routes.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new()
        .routes(routes!(list_directives))
        .routes(routes!(one_directive))
        .routes(routes!(set_enabled))
        .routes(routes!(dry_run))
}

/// The directive ids disabled in `data_dir` (none when the file is missing; a damaged file is
/// quarantined by the read, logged, and counts as none).
pub fn disabled(data_dir: &Path) -> Vec<u32> {
    let path = data_dir.join(DISABLED_FILE);
    let parse = |bytes: &[u8]| serde_json::from_slice::<Vec<u32>>(bytes).map_err(|e| e.to_string());
    match vigil_store::read_state(&path, parse) {
        Ok(StateFile::Valid(ids)) => ids,
        Ok(StateFile::Missing) => Vec::new(),
        Ok(StateFile::Damaged(_)) | Err(_) => {
            tracing::warn!(path = %path.display(), "the disabled directives file is damaged or unreadable; every directive is enabled");
            Vec::new()
        }
    }
}

/// A directive as the console lists it.
#[derive(Serialize, ToSchema)]
struct DirectiveItem {
    /// Directive id.
    id: u32,
    /// Its name.
    name: String,
    /// Priority 0-5 of its directive events.
    priority: u8,
    /// How many levels its rule tree has.
    levels: u8,
    /// Whether the core loads it.
    enabled: bool,
    /// The file it is written in.
    file: String,
    /// The XML text of its `<directive>` element (only for one directive).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// How deep `rule`'s tree goes.
fn depth(rule: &Rule) -> u8 {
    1 + rule.children.iter().map(depth).max().unwrap_or(0)
}

fn item(directive: &Directive, disabled: &[u32]) -> DirectiveItem {
    DirectiveItem {
        id: directive.id,
        name: directive.name.clone(),
        priority: directive.priority,
        levels: depth(&directive.root),
        enabled: !disabled.contains(&directive.id),
        file: directive.location.file.display().to_string(),
        source: None,
    }
}

/// The text of the `<directive>` element that starts at `directive`'s location.
fn source(directive: &Directive) -> anyhow::Result<String> {
    let location = &directive.location;
    let text = std::fs::read_to_string(&location.file)?;
    let line_start: usize = text
        .split_inclusive('\n')
        .take(location.line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let rest = &text[line_start..];
    let start = rest
        .find("<directive")
        .ok_or_else(|| anyhow::anyhow!("no <directive> element at {location}"))?;
    let end = rest[start..]
        .find("</directive>")
        .ok_or_else(|| anyhow::anyhow!("the <directive> element at {location} does not end"))?;
    Ok(rest[start..start + end + "</directive>".len()].to_string())
}

/// The directives of the configuration, as they load now, with the disabled ids.
fn load(console: &Console) -> (LoadedDirectives, Vec<u32>) {
    let config = &console.core.config;
    (
        load_directives(&config.correlation.directives),
        disabled(&config.data_dir),
    )
}

/// Runs `f` off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

/// Lists the configured directives, enabled or not.
#[utoipa::path(get, path = "/api/v1/directives", tag = "directives",
    responses(
        (status = 200, description = "Every configured directive that loads", body = Page<DirectiveItem>),
        (status = 401, description = "Not logged in", body = Problem),
    ))]
async fn list_directives(State(console): State<Arc<Console>>) -> Response {
    let listed = blocking(move || {
        let (loaded, disabled) = load(&console);
        loaded
            .set
            .directives
            .iter()
            .map(|d| item(d, &disabled))
            .collect::<Vec<_>>()
    })
    .await;
    match listed {
        Ok(items) => Json(Page {
            items,
            next_cursor: None,
        })
        .into_response(),
        Err(failed) => failed,
    }
}

/// The directive `id` with its XML source, or the answer to give.
fn one(console: &Console, id: u32) -> Result<DirectiveItem, Response> {
    let (loaded, disabled) = load(console);
    let Some(directive) = loaded.set.directives.iter().find(|d| d.id == id) else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            &format!("no configured directive has id {id}"),
        ));
    };
    let mut found = item(directive, &disabled);
    found.source = Some(
        source(directive)
            .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")))?,
    );
    Ok(found)
}

/// One directive with its XML source.
#[utoipa::path(get, path = "/api/v1/directives/{id}", tag = "directives",
    params(("id" = u32, Path, description = "The directive's id")),
    responses(
        (status = 200, description = "The directive and its source", body = DirectiveItem),
        (status = 400, description = "Not a directive id", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 404, description = "No configured directive has this id", body = Problem),
    ))]
async fn one_directive(
    State(console): State<Arc<Console>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return bad_request(&format!("invalid directive id {id:?}: not a number"));
    };
    match blocking(move || one(&console, id)).await {
        Ok(Ok(found)) => Json(found).into_response(),
        Ok(Err(refusal)) | Err(refusal) => refusal,
    }
}

/// Whether a directive runs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Enabled {
    /// True to run it, false to leave it out.
    enabled: bool,
}

/// Enables or disables a directive: kept in the data directory and applied by a reload of the
/// rules; its open backlogs end with the reload.
#[utoipa::path(post, path = "/api/v1/directives/{id}/enabled", tag = "directives",
    params(("id" = u32, Path, description = "The directive's id")),
    request_body = Enabled,
    responses(
        (status = 200, description = "The directive as it is now", body = DirectiveItem),
        (status = 400, description = "Not a directive id, or not the expected body", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 404, description = "No configured directive has this id", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 422, description = "Saved, but the rules do not reload (the detail says why); it applies at the next reload", body = Problem),
    ))]
async fn set_enabled(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let Ok(id) = id.parse::<u32>() else {
        return bad_request(&format!("invalid directive id {id:?}: not a number"));
    };
    let wanted: Enabled = match json_body(&headers, &body) {
        Ok(wanted) => wanted,
        Err(refusal) => return refusal,
    };
    let _changing = CHANGING.lock().await;
    let state = console.clone();
    let saved = blocking(move || -> Result<(), Response> {
        one(&state, id)?;
        let data_dir = &state.core.config.data_dir;
        let mut ids = disabled(data_dir);
        ids.retain(|&d| d != id);
        if !wanted.enabled {
            ids.push(id);
            ids.sort_unstable();
        }
        let bytes = serde_json::to_vec(&ids)
            .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        vigil_store::write_state(&data_dir.join(DISABLED_FILE), &bytes).map_err(|e| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot save {DISABLED_FILE}: {e}"),
            )
        })
    })
    .await;
    if let Some(refusal) = saved.and_then(|r| r).err() {
        return refusal;
    }
    let action = match wanted.enabled {
        true => vigil_event::AuditAction::DirectiveEnable,
        false => vigil_event::AuditAction::DirectiveDisable,
    };
    super::admin_api::audit(&console, &who, action, &id.to_string(), Ok(())).await;
    if let Err(e) = crate::admin::request_reload(&console.core.reloads).await {
        super::admin_api::audit(
            &console,
            &who,
            vigil_event::AuditAction::Reload,
            "rules",
            Err(&e),
        )
        .await;
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("saved, but the rules do not reload: {e}"),
        );
    }
    match blocking(move || one(&console, id)).await {
        Ok(Ok(found)) => Json(found).into_response(),
        Ok(Err(refusal)) | Err(refusal) => refusal,
    }
}

/// What a dry run runs: a configured directive (`directive_id`) or an XML source.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DryRun {
    /// A configured directive, enabled or not.
    directive_id: Option<u32>,
    /// The XML of one or more `<directive>` elements (entities are not resolved).
    source: Option<String>,
    /// Earliest event time, inclusive (RFC 3339 or epoch seconds).
    #[schema(value_type = String)]
    from: serde_json::Value,
    /// Latest event time, inclusive (RFC 3339 or epoch seconds).
    #[schema(value_type = String)]
    to: serde_json::Value,
}

/// What a dry run found.
#[derive(Serialize, ToSchema)]
struct DryRunResult {
    /// Every alarm revision it raised, in order (alarm JSON of docs/formats.md).
    #[schema(value_type = Vec<Object>)]
    alarms: Vec<Alarm>,
    /// Stored events fed to correlation.
    events_read: u64,
    /// It stopped before the end of the range: at 1,000,000 events, 1,000 alarm revisions or
    /// 10 s.
    cut: bool,
}

/// A time of the body: a string (RFC 3339 or epoch seconds) or a number of epoch seconds.
fn body_time(name: &str, value: &serde_json::Value) -> Result<Timestamp, Response> {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(bad_request(&format!("{name} is missing: give a time"))),
    };
    super::input::time(name, Some(&text), Timestamp::MIN)
}

/// The directives a dry run runs.
fn dry_run_directives(console: &Console, run: &DryRun) -> Result<LoadedDirectives, Response> {
    match (run.directive_id, &run.source) {
        (Some(id), None) => {
            let (mut loaded, _) = load(console);
            loaded.set.directives.retain(|d| d.id == id);
            if loaded.set.directives.is_empty() {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    &format!("no configured directive has id {id}"),
                ));
            }
            loaded.diagnostics.retain(|_| false);
            Ok(loaded)
        }
        (None, Some(xml)) => {
            let outcome = vigil_directives::load_str(Path::new("dry-run.xml"), xml)
                .map_err(|d| bad_request(&format!("invalid source: {d}")))?;
            let errors: Vec<String> = outcome.errors().map(ToString::to_string).collect();
            if !errors.is_empty() {
                return Err(bad_request(&format!(
                    "invalid source: {}",
                    errors.join("; ")
                )));
            }
            if outcome.set.directives.is_empty() {
                return Err(bad_request("invalid source: it holds no <directive>"));
            }
            Ok(LoadedDirectives {
                set: outcome.set,
                diagnostics: Vec::new(),
            })
        }
        _ => Err(bad_request(
            "give either directive_id or source, not both and not neither",
        )),
    }
}

/// Runs `run` over the stored events.
fn dry_run_blocking(console: &Console, run: DryRun) -> Result<DryRunResult, Response> {
    let from = body_time("from", &run.from)?;
    let to = body_time("to", &run.to)?;
    if from > to {
        return Err(bad_request("invalid from: it is after to"));
    }
    let directives = dry_run_directives(console, &run)?;
    let config = &console.core.config;
    let failed = |e: anyhow::Error| problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}"));
    let sids =
        Arc::new(vigil_analysis::load_sid_tables(&config.plugins.sid_tables).map_err(failed)?);
    let taxonomy = Arc::new(vigil_analysis::correlation::taxonomy(
        &sids,
        &config.plugins.products,
    ));
    let setup = Setup::load_with(&config.correlation, taxonomy, directives)
        .map_err(|e| bad_request(&format!("the directive does not load: {e:#}")))?;
    let mut analyzer = setup.analyzer(sids, &config.correlation);
    let log = vigil_store::Log::open_read_only(&config.data_dir.join("events"))
        .map_err(|e| failed(e.into()))?;
    let started = Instant::now();
    let mut alarms = Vec::new();
    let mut cut = false;
    let mut read = 0;
    let events_read =
        vigil_analysis::analysis::replay_stored(&log, from, to, &mut analyzer, |analysis| {
            alarms.extend(analysis.alarms);
            read += 1;
            if read >= DRY_RUN_MAX_EVENTS
                || alarms.len() >= DRY_RUN_MAX_ALARMS
                || started.elapsed() >= DRY_RUN_MAX_TIME
            {
                alarms.truncate(DRY_RUN_MAX_ALARMS);
                cut = true;
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        })
        .map_err(|e| failed(e.into()))?;
    Ok(DryRunResult {
        alarms,
        events_read,
        cut,
    })
}

/// Runs a configured directive or a posted XML source over the stored events of a time range,
/// as `vigil replay --store` does, and answers with the alarms it would raise. At most
/// 1,000,000 events, 1,000 alarm revisions and 10 s (`cut` says when it stopped before the end
/// of the range); two at once.
#[utoipa::path(post, path = "/api/v1/directives/dry-run", tag = "directives",
    request_body = DryRun,
    responses(
        (status = 200, description = "The alarms it would raise", body = DryRunResult),
        (status = 400, description = "Invalid times, source, or both/neither of directive_id and source", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the analyst role, or a missing CSRF token", body = Problem),
        (status = 404, description = "No configured directive has this id", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 429, description = "Two dry runs are already running", body = Problem),
    ))]
async fn dry_run(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Analyst) {
        return refusal;
    }
    let run: DryRun = match json_body(&headers, &body) {
        Ok(run) => run,
        Err(refusal) => return refusal,
    };
    let Ok(_running) = DRY_RUNS.try_acquire() else {
        super::refused("busy");
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "two dry runs are already running; try again when one ends",
        );
    };
    match blocking(move || dry_run_blocking(&console, run)).await {
        Ok(Ok(result)) => Json(result).into_response(),
        Ok(Err(refusal)) | Err(refusal) => refusal,
    }
}
