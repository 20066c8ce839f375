//! ListSchedules (filters and pages) and how a schedule is shown.

use crate::definition::check_name;
use crate::error::ScheduleError;
use crate::service::{ListFilter, ScheduleView, Schedules};
use crate::table::{Entry, Key, schedule_arn};

impl Schedules {
    /// ListSchedules: by group and name; `NextToken` is the last one given.
    pub fn list(
        &self,
        f: &ListFilter,
    ) -> Result<(Vec<ScheduleView>, Option<String>), ScheduleError> {
        let r = self.list_inner(f);
        self.counted(r)
    }

    fn list_inner(
        &self,
        f: &ListFilter,
    ) -> Result<(Vec<ScheduleView>, Option<String>), ScheduleError> {
        let max = page_size(f.max_results)?;
        let enabled = match f.state.as_deref() {
            None => None,
            Some("ENABLED") => Some(true),
            Some("DISABLED") => Some(false),
            Some(s) => {
                return Err(ScheduleError::Validation(format!(
                    "State must be ENABLED or DISABLED (got {s})"
                )));
            }
        };
        if let Some(g) = &f.group {
            check_name("schedule group name", g)?;
        }
        if let Some(p) = &f.name_prefix {
            check_name("NamePrefix", p)?;
        }
        let after = f.next_token.as_deref().map(parse_token).transpose()?;
        let t = self.table.lock();
        if let Some(g) = &f.group
            && !t.groups.contains_key(g)
        {
            return Err(self.group_not_found(&t, g));
        }
        let mut out = Vec::new();
        let mut more = false;
        for (key, e) in &t.schedules {
            if after.as_ref().is_some_and(|a| key <= a)
                || f.group.as_ref().is_some_and(|g| *g != key.0)
                || f.name_prefix
                    .as_ref()
                    .is_some_and(|p| !key.1.starts_with(p.as_str()))
                || enabled.is_some_and(|on| on != e.def.enabled)
            {
                continue;
            }
            if out.len() == max {
                more = true;
                break;
            }
            out.push(self.view(key, e));
        }
        let token = more
            .then(|| {
                out.last()
                    .map(|v: &ScheduleView| format!("{}/{}", v.group, v.name))
            })
            .flatten();
        Ok((out, token))
    }

    pub(crate) fn view(&self, key: &Key, e: &Entry) -> ScheduleView {
        let arn = schedule_arn(&self.account, &key.0, &key.1);
        ScheduleView {
            permitted: e
                .def
                .function()
                .is_some_and(|f| self.functions.may_invoke(&arn, &f)),
            group: key.0.clone(),
            name: key.1.clone(),
            arn,
            definition: e.def.clone(),
            created_ms: e.created_ms,
            modified_ms: e.modified_ms,
            next_fire_ms: e.next_due(),
            last_fire_ms: e.cursor.last_fire_ms,
        }
    }
}

pub(crate) fn page_size(max: Option<i64>) -> Result<usize, ScheduleError> {
    match max {
        None => Ok(100),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(n) => Err(ScheduleError::Validation(format!(
            "MaxResults must be between 1 and 100 (got {n})"
        ))),
    }
}

fn parse_token(token: &str) -> Result<Key, ScheduleError> {
    token
        .split_once('/')
        .map(|(g, n)| (g.to_owned(), n.to_owned()))
        .ok_or_else(|| {
            ScheduleError::Validation(format!(
                "NextToken {token:?} is not one lambdalet gave: start the listing again without it"
            ))
        })
}
