//! EventBridge Scheduler's schedule groups (`/schedule-groups/{Name}`) and their tags
//! (`/tags/{ResourceArn}`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use bytes::Bytes;
use lambdalet_schedule::GroupView;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::schedules::{Answer, max_results, ok, parse, seconds};
use crate::state::ApiState;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CreateGroup {
    tags: Option<Value>,
    client_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct TagBody {
    tags: Option<Value>,
}

fn render(g: &GroupView) -> Value {
    json!({
        "Arn": g.arn,
        "Name": g.name,
        "State": "ACTIVE",
        "CreationDate": seconds(g.created_ms),
        "LastModificationDate": seconds(g.modified_ms),
    })
}

/// `POST /schedule-groups/{Name}`: CreateScheduleGroup.
pub(crate) async fn create(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let b: CreateGroup = parse(&body, "CreateScheduleGroup")?;
    let arn = s
        .schedules
        .create_group(&name, b.tags, b.client_token)
        .await?;
    Ok(ok(&json!({ "ScheduleGroupArn": arn })))
}

/// `GET /schedule-groups/{Name}`: GetScheduleGroup.
pub(crate) async fn get(State(s): State<ApiState>, Path(name): Path<String>) -> Answer {
    Ok(ok(&render(&s.schedules.get_group(&name)?)))
}

/// `DELETE /schedule-groups/{Name}`: DeleteScheduleGroup, with its schedules.
pub(crate) async fn delete(State(s): State<ApiState>, Path(name): Path<String>) -> Answer {
    s.schedules.delete_group(&name).await?;
    Ok(ok(&json!({})))
}

/// `GET /schedule-groups?NamePrefix=&NextToken=&MaxResults=`: ListScheduleGroups.
pub(crate) async fn list(
    State(s): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let (page, next) = s.schedules.list_groups(
        q.get("NamePrefix").map(String::as_str),
        q.get("NextToken").map(String::as_str),
        max_results(q.get("MaxResults"))?,
    )?;
    let mut out = json!({ "ScheduleGroups": page.iter().map(render).collect::<Vec<_>>() });
    if let Some(t) = next {
        out["NextToken"] = json!(t);
    }
    Ok(ok(&out))
}

/// `GET /tags/{ResourceArn}`: ListTagsForResource.
pub(crate) async fn list_tags(State(s): State<ApiState>, Path(arn): Path<String>) -> Answer {
    Ok(ok(&json!({ "Tags": s.schedules.list_tags(&arn)? })))
}

/// `POST /tags/{ResourceArn}`: TagResource.
pub(crate) async fn tag(State(s): State<ApiState>, Path(arn): Path<String>, body: Bytes) -> Answer {
    let b: TagBody = parse(&body, "TagResource")?;
    let tags = b.tags.unwrap_or(Value::Array(Vec::new()));
    s.schedules.change_tags(&arn, Some(tags), &[]).await?;
    Ok(ok(&json!({})))
}

/// `DELETE /tags/{ResourceArn}?TagKeys=..&TagKeys=..`: UntagResource.
pub(crate) async fn untag(
    State(s): State<ApiState>,
    Path(arn): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let keys: Vec<String> = q
        .into_iter()
        .filter(|(k, _)| k == "TagKeys")
        .map(|(_, v)| v)
        .collect();
    s.schedules.change_tags(&arn, None, &keys).await?;
    Ok(ok(&json!({})))
}
