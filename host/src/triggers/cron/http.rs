//! Cron and heartbeats over HTTP, for the operator (the CLI's `cron run`) and for agents
//! (their `set_cron`, `list_cron`, `remove_cron`, `set_heartbeat` tools):
//!
//! - `GET /mesh/cron` (`?agent_id=`): the jobs;
//! - `POST /mesh/cron`: add a job, or replace one (`id`): `{agent?, schedule, message,
//!   timezone?, name?, catch_up?, enabled?}`; 400 for a bad schedule or zone;
//! - `DELETE /mesh/cron/{id}` (id or name);
//! - `POST /mesh/cron/{id}/run`: fire it now;
//! - `PUT /mesh/heartbeat`: set an agent's heartbeat `{agent?, schedule?, timezone?,
//!   probes?, enabled?, rules?}`.
//!
//! Who may do what: the operator, everything. An agent needs `can_manage_cron` in
//! permissions.json (default deny, 403), and then manages only the jobs that run on
//! itself (`agent` is itself; another agent's job is 403, as is naming another agent).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use openlegion_protocol::CronJob;
use serde::Deserialize;
use serde_json::{Value, json};

use super::jobs::{HEARTBEAT_PREFIX, apply_heartbeat, heartbeat_job};
use super::{Cron, CronError};
use crate::auth::{Caller, Tokens};
use crate::config::{HeartbeatConfig, PROBES};
use crate::permissions::Permissions;
use crate::server::ApiError;

#[derive(Debug, Clone, FromRef)]
struct CronApi {
    cron: Arc<Cron>,
    tokens: Arc<Tokens>,
    permissions: Arc<Permissions>,
}

/// The cron routes, with their own state, to merge into the mesh's app.
pub fn routes(cron: Arc<Cron>, tokens: Arc<Tokens>, permissions: Arc<Permissions>) -> Router {
    Router::new()
        .route("/mesh/cron", get(list).post(add))
        .route("/mesh/cron/{id}", delete(remove))
        .route("/mesh/cron/{id}/run", post(run))
        .route("/mesh/heartbeat", put(heartbeat))
        .with_state(CronApi {
            cron,
            tokens,
            permissions,
        })
}

impl From<CronError> for ApiError {
    fn from(e: CronError) -> Self {
        let status = match &e {
            CronError::UnknownJob { .. } | CronError::UnknownAgent { .. } => StatusCode::NOT_FOUND,
            CronError::Schedule(_)
            | CronError::TooMany { .. }
            | CronError::NameTaken { .. }
            | CronError::Invalid(_) => StatusCode::BAD_REQUEST,
            CronError::Malformed(_) => StatusCode::CONFLICT,
            CronError::Lane(crate::lanes::LaneError::Full { .. }) => StatusCode::TOO_MANY_REQUESTS,
            _ => {
                tracing::error!(error = %e, "cron");
                return ApiError::failed(&e);
            }
        };
        ApiError::new(status, e.to_string())
    }
}

fn body<T>(parsed: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    parsed
        .map(|Json(v)| v)
        .map_err(|r| ApiError::new(r.status(), r.body_text()))
}

/// The agent whose jobs the caller acts on: `asked` (default: the calling agent), checked
/// against `can_manage_cron` and ownership.
fn acting_on(
    api: &CronApi,
    caller: &Caller,
    asked: Option<&str>,
    action: &str,
) -> Result<String, ApiError> {
    let forbidden = |detail: String| ApiError::new(StatusCode::FORBIDDEN, detail);
    match caller {
        Caller::Operator => asked.map(str::to_owned).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "agent: the operator must name the agent",
            )
        }),
        Caller::Agent(id) => {
            if !api
                .permissions
                .current()
                .resolve(id.as_str())
                .can_manage_cron
            {
                return Err(forbidden(format!(
                    "Agent {id} cannot {action}: can_manage_cron is not granted in permissions.json"
                )));
            }
            match asked {
                Some(other) if other != id.as_str() => Err(forbidden(format!(
                    "Agent {id} cannot {action} for agent {other}: an agent manages only its own jobs"
                ))),
                _ => Ok(id.to_string()),
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    agent_id: Option<String>,
}

async fn list(
    State(api): State<CronApi>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let agent = match &caller {
        Caller::Operator => q.agent_id,
        Caller::Agent(_) => Some(acting_on(
            &api,
            &caller,
            q.agent_id.as_deref(),
            "list cron jobs",
        )?),
    };
    let jobs = api.cron.list(agent.as_deref());
    Ok(Json(json!({"count": jobs.len(), "jobs": jobs})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    /// Replace this job instead of adding one.
    id: Option<String>,
    #[serde(alias = "agent_id")]
    agent: Option<String>,
    name: Option<String>,
    schedule: String,
    #[serde(default)]
    message: String,
    timezone: Option<String>,
    catch_up: Option<bool>,
    enabled: Option<bool>,
}

async fn add(
    State(api): State<CronApi>,
    caller: Caller,
    parsed: Result<Json<NewJob>, JsonRejection>,
) -> Result<Json<CronJob>, ApiError> {
    let new = body(parsed)?;
    let agent = acting_on(&api, &caller, new.agent.as_deref(), "set cron jobs")?;
    if new.message.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "message: say what the agent should do when the job fires",
        ));
    }
    if new.message.len() > 16 * 1024 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "message: at most 16 KiB",
        ));
    }
    let mut job = match &new.id {
        Some(id) => {
            let old = api.cron.get(id)?;
            if old.agent != agent || old.heartbeat {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("job {id} is not a cron job of {agent}"),
                ));
            }
            old
        }
        None => CronJob::new(&agent, &new.schedule, &new.message),
    };
    job.schedule = new.schedule;
    job.message = new.message;
    job.timezone = new.timezone;
    job.name = new.name.or(job.name);
    job.catch_up = new.catch_up.unwrap_or(job.catch_up);
    job.enabled = new.enabled.unwrap_or(true);
    if job.created_by.is_none() {
        job.created_by = Some(caller.id().to_owned());
    }
    Ok(Json(api.cron.put(job).await?))
}

/// The job `key`, if the caller may manage it.
fn owned(api: &CronApi, caller: &Caller, key: &str, action: &str) -> Result<CronJob, ApiError> {
    let job = api.cron.get(key)?;
    acting_on(api, caller, Some(&job.agent), action)?;
    Ok(job)
}

async fn remove(
    State(api): State<CronApi>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    owned(&api, &caller, &key, "remove cron jobs")?;
    let job = api.cron.remove(&key).await?;
    Ok(Json(json!({"removed": true, "id": job.id})))
}

async fn run(
    State(api): State<CronApi>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = owned(&api, &caller, &key, "run cron jobs")?;
    let item = api.cron.run_now(&job.id).await?;
    Ok(Json(
        json!({"id": job.id, "fired": item.is_some(), "lane_item": item}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatBody {
    #[serde(alias = "agent_id")]
    agent: Option<String>,
    schedule: Option<String>,
    timezone: Option<String>,
    probes: Option<Vec<String>>,
    enabled: Option<bool>,
    rules: Option<String>,
}

async fn heartbeat(
    State(api): State<CronApi>,
    caller: Caller,
    parsed: Result<Json<HeartbeatBody>, JsonRejection>,
) -> Result<Json<CronJob>, ApiError> {
    let b = body(parsed)?;
    let agent = acting_on(&api, &caller, b.agent.as_deref(), "set its heartbeat")?;
    if let Some(p) = b
        .probes
        .iter()
        .flatten()
        .find(|p| !PROBES.contains(&p.as_str()))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "probes: {p:?} is not a probe (one of {})",
                PROBES.join(", ")
            ),
        ));
    }
    let id = format!("{HEARTBEAT_PREFIX}{agent}");
    let current = api.cron.get(&id).ok();
    let base = current
        .as_ref()
        .map_or_else(HeartbeatConfig::default, |j| HeartbeatConfig {
            enabled: j.enabled,
            schedule: j.schedule.clone(),
            timezone: j.timezone.clone(),
            probes: j.probes.clone(),
            rules: Some(j.message.clone()).filter(|m| !m.is_empty()),
        });
    let config = HeartbeatConfig {
        enabled: b.enabled.unwrap_or(true),
        schedule: b.schedule.unwrap_or(base.schedule),
        timezone: b.timezone.or(base.timezone),
        probes: b.probes.unwrap_or(base.probes),
        rules: b.rules.or(base.rules),
    };
    let job = match current {
        Some(mut job) => {
            apply_heartbeat(&mut job, &config);
            job
        }
        None => {
            let mut job = heartbeat_job(&agent, &config);
            job.created_by = Some(caller.id().to_owned());
            job
        }
    };
    Ok(Json(api.cron.put(job).await?))
}
