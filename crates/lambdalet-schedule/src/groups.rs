//! Schedule groups (Create/Get/Delete/ListScheduleGroups) and their tags
//! (Tag/Untag/ListTagsForResource: EventBridge Scheduler tags schedule groups only).

use lambdalet_store::{DEFAULT_SCHEDULE_GROUP, ScheduleGroupRecord};
use serde_json::Value;

use crate::definition::{check_client_token, check_name};
use crate::error::ScheduleError;
use crate::listing::page_size;
use crate::service::{GroupView, Schedules};
use crate::table::group_arn;

impl Schedules {
    /// CreateScheduleGroup: returns the group's ARN.
    pub async fn create_group(
        &self,
        name: &str,
        tags: Option<Value>,
        client_token: Option<String>,
    ) -> Result<String, ScheduleError> {
        let r = self.create_group_inner(name, tags, client_token).await;
        self.counted(r)
    }

    async fn create_group_inner(
        &self,
        name: &str,
        tags: Option<Value>,
        client_token: Option<String>,
    ) -> Result<String, ScheduleError> {
        check_name("schedule group name", name)?;
        check_client_token(client_token.as_deref())?;
        let tags = check_tags(tags)?;
        let arn = group_arn(&self.account, name);
        let _w = self.writes.lock().await;
        if let Some(g) = self.table.lock().groups.get(name) {
            if g.client_token.is_some() && g.client_token == client_token {
                return Ok(arn);
            }
            return Err(ScheduleError::Conflict(format!(
                "ScheduleGroup {name} already exists"
            )));
        }
        let now = self.clock.now_ms() as u64;
        let record = ScheduleGroupRecord {
            name: name.to_owned(),
            created_ms: now,
            modified_ms: now,
            tags: tags.to_string(),
            client_token,
        };
        let r = record.clone();
        self.blocking(move |s| s.insert_schedule_group(&r)).await?;
        tracing::info!(group = %name, "schedule_group.created");
        self.table.lock().groups.insert(name.to_owned(), record);
        Ok(arn)
    }

    /// GetScheduleGroup.
    pub fn get_group(&self, name: &str) -> Result<GroupView, ScheduleError> {
        let r = (|| {
            check_name("schedule group name", name)?;
            let t = self.table.lock();
            let g = t
                .groups
                .get(name)
                .ok_or_else(|| self.group_not_found(&t, name))?;
            Ok(self.group_view(g))
        })();
        self.counted(r)
    }

    /// DeleteScheduleGroup: the group and its schedules.
    pub async fn delete_group(&self, name: &str) -> Result<(), ScheduleError> {
        let r = self.delete_group_inner(name).await;
        self.counted(r)
    }

    async fn delete_group_inner(&self, name: &str) -> Result<(), ScheduleError> {
        check_name("schedule group name", name)?;
        if name == DEFAULT_SCHEDULE_GROUP {
            return Err(ScheduleError::Validation(
                "the default schedule group cannot be deleted: delete its schedules one by one"
                    .to_owned(),
            ));
        }
        let _w = self.writes.lock().await;
        {
            let t = self.table.lock();
            if !t.groups.contains_key(name) {
                return Err(self.group_not_found(&t, name));
            }
        }
        let n = name.to_owned();
        let removed = self.blocking(move |s| s.delete_schedule_group(&n)).await?;
        let mut t = self.table.lock();
        t.groups.remove(name);
        t.schedules.retain(|(g, _), _| g != name);
        drop(t);
        tracing::info!(group = %name, schedules = removed, "schedule_group.deleted");
        self.wake.notify_one();
        Ok(())
    }

    /// ListScheduleGroups.
    pub fn list_groups(
        &self,
        name_prefix: Option<&str>,
        next_token: Option<&str>,
        max_results: Option<i64>,
    ) -> Result<(Vec<GroupView>, Option<String>), ScheduleError> {
        let r = (|| {
            let max = page_size(max_results)?;
            if let Some(p) = name_prefix {
                check_name("NamePrefix", p)?;
            }
            let t = self.table.lock();
            let mut out = Vec::new();
            let mut more = false;
            for g in t.groups.values() {
                if next_token.is_some_and(|a| g.name.as_str() <= a)
                    || name_prefix.is_some_and(|p| !g.name.starts_with(p))
                {
                    continue;
                }
                if out.len() == max {
                    more = true;
                    break;
                }
                out.push(self.group_view(g));
            }
            let token = more
                .then(|| out.last().map(|g: &GroupView| g.name.clone()))
                .flatten();
            Ok((out, token))
        })();
        self.counted(r)
    }

    pub(crate) fn group_view(&self, g: &ScheduleGroupRecord) -> GroupView {
        GroupView {
            name: g.name.clone(),
            arn: group_arn(&self.account, &g.name),
            created_ms: g.created_ms as i64,
            modified_ms: g.modified_ms as i64,
            tags: serde_json::from_str(&g.tags).unwrap_or(Value::Array(Vec::new())),
        }
    }

    /// The group a schedule-group ARN names (`arn:aws:scheduler:REGION:ACCOUNT:schedule-group/NAME`).
    fn group_of_arn(&self, arn: &str) -> Result<String, ScheduleError> {
        let name = arn
            .strip_prefix(&group_arn(&self.account, ""))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                let kind = if arn.contains(":schedule/") {
                    "a schedule's ARN: EventBridge Scheduler tags schedule groups only"
                } else {
                    "not a schedule group ARN of this lambdalet"
                };
                ScheduleError::Validation(format!(
                    "ResourceArn {arn} is {kind} (use {})",
                    group_arn(&self.account, "NAME")
                ))
            })?;
        check_name("schedule group name", name)?;
        Ok(name.to_owned())
    }

    /// ListTagsForResource.
    pub fn list_tags(&self, arn: &str) -> Result<Value, ScheduleError> {
        let r = (|| {
            let name = self.group_of_arn(arn)?;
            let t = self.table.lock();
            let g = t
                .groups
                .get(&name)
                .ok_or_else(|| self.group_not_found(&t, &name))?;
            Ok(self.group_view(g).tags)
        })();
        self.counted(r)
    }

    /// TagResource (a tag of a key already there takes the new value) and UntagResource.
    pub async fn change_tags(
        &self,
        arn: &str,
        add: Option<Value>,
        remove: &[String],
    ) -> Result<(), ScheduleError> {
        let r = self.change_tags_inner(arn, add, remove).await;
        self.counted(r)
    }

    async fn change_tags_inner(
        &self,
        arn: &str,
        add: Option<Value>,
        remove: &[String],
    ) -> Result<(), ScheduleError> {
        let name = self.group_of_arn(arn)?;
        let add = check_tags(add)?;
        let _w = self.writes.lock().await;
        let mut record = {
            let t = self.table.lock();
            t.groups
                .get(&name)
                .cloned()
                .ok_or_else(|| self.group_not_found(&t, &name))?
        };
        let mut tags: Vec<Value> = serde_json::from_str(&record.tags).unwrap_or_default();
        let new = add.as_array().cloned().unwrap_or_default();
        tags.retain(|t| {
            let key = t["Key"].as_str().unwrap_or_default();
            !remove.iter().any(|r| r == key) && !new.iter().any(|n| n["Key"] == t["Key"])
        });
        tags.extend(new);
        let tags = check_tags(Some(Value::Array(tags)))?;
        record.tags = tags.to_string();
        record.modified_ms = self.clock.now_ms() as u64;
        let r = record.clone();
        self.blocking(move |s| s.update_schedule_group(&r)).await?;
        self.table.lock().groups.insert(name, record);
        Ok(())
    }
}

/// `[{"Key": .., "Value": ..}]`, at most 200.
fn check_tags(tags: Option<Value>) -> Result<Value, ScheduleError> {
    let Some(tags) = tags else {
        return Ok(Value::Array(Vec::new()));
    };
    let bad = || {
        ScheduleError::Validation(
            "Tags must be a list of at most 200 {\"Key\": ..., \"Value\": ...}, keys 1 to 128 and values 1 to 256 characters"
                .to_owned(),
        )
    };
    let list = tags.as_array().ok_or_else(bad)?;
    if list.len() > 200 {
        return Err(bad());
    }
    for t in list {
        let (Some(k), Some(v)) = (t["Key"].as_str(), t["Value"].as_str()) else {
            return Err(bad());
        };
        if k.is_empty() || k.len() > 128 || v.is_empty() || v.len() > 256 {
            return Err(bad());
        }
    }
    Ok(tags)
}
