//! EventBridge Scheduler's schedules (`/schedules/{Name}`), served on the Lambda API's port so
//! `aws scheduler ... --endpoint-url` works: Create/Get/Update/Delete/ListSchedules with the
//! Scheduler's JSON shapes and errors (`{"Message"}` and `x-amzn-ErrorType`). What a schedule
//! means and when it fires is `lambdalet-schedule`'s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use lambdalet_schedule::{ListFilter, ScheduleError, ScheduleInput, ScheduleView};
use serde_json::{Value, json};

use crate::body::json_response;
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

/// A Scheduler API refusal, in the Scheduler's shape.
pub(crate) struct SchedulerError(pub ScheduleError);

impl From<ScheduleError> for SchedulerError {
    fn from(e: ScheduleError) -> Self {
        Self(e)
    }
}

impl IntoResponse for SchedulerError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let error_type = self.0.error_type();
        if status.is_server_error() {
            tracing::warn!(error_type, message = %self.0, "scheduler.error");
        } else {
            tracing::debug!(error_type, message = %self.0, "scheduler.error");
        }
        let body = json!({ "Message": self.0.to_string() });
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
        if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert("x-amzn-requestid", id);
        }
        resp
    }
}

pub(crate) type Answer = Result<Response, SchedulerError>;

/// Parses a JSON body; an empty one is `{}`.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    op: &str,
) -> Result<T, SchedulerError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        SchedulerError(ScheduleError::Validation(format!(
            "the {op} request body is not valid: {e}"
        )))
    })
}

pub(crate) fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

/// A REST-JSON timestamp: seconds since the epoch.
pub(crate) fn seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// `POST /schedules/{Name}`: CreateSchedule.
pub(crate) async fn create(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let input: ScheduleInput = parse(&body, "CreateSchedule")?;
    let arn = s.schedules.create(&name, input).await?;
    Ok(ok(&json!({ "ScheduleArn": arn })))
}

/// `PUT /schedules/{Name}`: UpdateSchedule.
pub(crate) async fn update(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let input: ScheduleInput = parse(&body, "UpdateSchedule")?;
    let arn = s.schedules.update(&name, input).await?;
    Ok(ok(&json!({ "ScheduleArn": arn })))
}

/// `GET /schedules/{Name}?groupName=`: GetSchedule.
pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Answer {
    let v = s
        .schedules
        .get(q.get("groupName").map(String::as_str), &name)?;
    Ok(ok(&render(&v)))
}

/// `DELETE /schedules/{Name}?groupName=&clientToken=`: DeleteSchedule.
pub(crate) async fn delete(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Answer {
    s.schedules
        .delete(q.get("groupName").map(String::as_str), &name)
        .await?;
    Ok(ok(&json!({})))
}

/// `GET /schedules?ScheduleGroup=&NamePrefix=&State=&NextToken=&MaxResults=`: ListSchedules.
pub(crate) async fn list(State(s): State<ApiState>, Query(q): Params) -> Answer {
    let filter = ListFilter {
        group: q.get("ScheduleGroup").cloned(),
        name_prefix: q.get("NamePrefix").cloned(),
        state: q.get("State").cloned(),
        next_token: q.get("NextToken").cloned(),
        max_results: max_results(q.get("MaxResults"))?,
    };
    let (page, next) = s.schedules.list(&filter)?;
    let schedules: Vec<Value> = page
        .iter()
        .map(|v| {
            json!({
                "Arn": v.arn,
                "Name": v.name,
                "GroupName": v.group,
                "State": state(v),
                "CreationDate": seconds(v.created_ms),
                "LastModificationDate": seconds(v.modified_ms),
                "Target": { "Arn": v.definition.target.arn },
            })
        })
        .collect();
    let mut out = json!({ "Schedules": schedules });
    if let Some(t) = next {
        out["NextToken"] = json!(t);
    }
    Ok(ok(&out))
}

/// `MaxResults`, a number.
pub(crate) fn max_results(given: Option<&String>) -> Result<Option<i64>, SchedulerError> {
    given
        .map(|m| {
            m.parse::<i64>().map_err(|_| {
                SchedulerError(ScheduleError::Validation(format!(
                    "MaxResults must be a number from 1 to 100 (got {m:?})"
                )))
            })
        })
        .transpose()
}

fn state(v: &ScheduleView) -> &'static str {
    if v.definition.enabled {
        "ENABLED"
    } else {
        "DISABLED"
    }
}

/// GetSchedule's answer: the schedule as given, with Scheduler's defaults filled in.
fn render(v: &ScheduleView) -> Value {
    let d = &v.definition;
    let mut window =
        json!({ "Mode": if d.flexible_window_minutes.is_some() { "FLEXIBLE" } else { "OFF" } });
    if let Some(m) = d.flexible_window_minutes {
        window["MaximumWindowInMinutes"] = json!(m);
    }
    let mut target = json!({
        "Arn": d.target.arn,
        "RoleArn": d.target.role_arn,
        "RetryPolicy": {
            "MaximumEventAgeInSeconds": d.target.maximum_event_age_in_seconds,
            "MaximumRetryAttempts": d.target.maximum_retry_attempts,
        },
    });
    if let Some(input) = &d.target.input {
        target["Input"] = json!(input);
    }
    if let Some(dl) = &d.target.dead_letter_arn {
        target["DeadLetterConfig"] = json!({ "Arn": dl });
    }
    let mut out = json!({
        "ActionAfterCompletion": if d.delete_after_completion { "DELETE" } else { "NONE" },
        "Arn": v.arn,
        "CreationDate": seconds(v.created_ms),
        "FlexibleTimeWindow": window,
        "GroupName": v.group,
        "LastModificationDate": seconds(v.modified_ms),
        "Name": v.name,
        "ScheduleExpression": d.expression,
        "ScheduleExpressionTimezone": d.timezone,
        "State": state(v),
        "Target": target,
    });
    for (key, value) in [
        ("Description", d.description.as_ref().map(|s| json!(s))),
        ("KmsKeyArn", d.kms_key_arn.as_ref().map(|s| json!(s))),
        ("StartDate", d.start_ms.map(seconds)),
        ("EndDate", d.end_ms.map(seconds)),
    ] {
        if let Some(value) = value {
            out[key] = value;
        }
    }
    out
}

/// `GET /lambdalet/v1/schedules`: every schedule with its next and last fire, for
/// `lambdalet schedule list` (the Scheduler API has no next fire time).
pub(crate) async fn overview(State(s): State<ApiState>) -> Answer {
    let mut all = Vec::new();
    let mut filter = ListFilter::default();
    loop {
        let (page, next) = s.schedules.list(&filter)?;
        all.extend(page.iter().map(|v| {
            json!({
                "GroupName": v.group,
                "Name": v.name,
                "Arn": v.arn,
                "State": state(v),
                "ScheduleExpression": v.definition.expression,
                "ScheduleExpressionTimezone": v.definition.timezone,
                "Target": v.definition.target.arn,
                "NextFireTime": v.next_fire_ms.map(lambdalet_schedule::scheduled_time),
                "LastFireTime": v.last_fire_ms.map(lambdalet_schedule::scheduled_time),
                "Permitted": v.permitted,
                "Grant": (!v.permitted)
                    .then(|| v.definition.function())
                    .flatten()
                    .map(|f| lambdalet_schedule::grant_command(&v.arn, &f)),
            })
        }));
        match next {
            Some(t) => filter.next_token = Some(t),
            None => break,
        }
    }
    Ok(ok(&json!({ "Schedules": all })))
}
