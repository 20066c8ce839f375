//! The schedules and groups in memory (rebuilt from the store at start), each schedule with its
//! next fire worked out, and the plan of the fires that are due.

use std::collections::BTreeMap;

use lambdalet_core::{AccountInfo, DeliveryPolicy};
use lambdalet_invoker::{AsyncRequest, SubmitOptions};
use lambdalet_store::{AlongWith, ScheduleGroupRecord, ScheduleRecord};

use crate::definition::Definition;
use crate::sink::Fire;
use crate::timing::{Cursor, Timing};

/// A schedule's group and name.
pub type Key = (String, String);

/// A fire more than this late (the daemon was down, or stopped) catches up: it fires once and
/// counts for every time missed until now.
pub(crate) const LATE_MS: i64 = 60_000;

/// One schedule.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub def: Definition,
    /// `None` when its expression or zone no longer reads (a zone gone from the system's
    /// database): it is listed, and does not fire.
    pub timing: Option<Timing>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub cursor: Cursor,
    /// The next fire: (scheduled time, when it is due).
    pub next: Option<(i64, i64)>,
    /// After the queue refused a fire: not again before this.
    pub retry_at: Option<i64>,
}

impl Entry {
    pub fn from_record(r: &ScheduleRecord, def: Definition) -> Self {
        let timing = match def.timing() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(group = %r.group, schedule = %r.name, "schedule.unreadable: it will not fire: {e}");
                None
            }
        };
        let mut e = Self {
            def,
            timing,
            created_ms: r.created_ms as i64,
            modified_ms: r.modified_ms as i64,
            cursor: Cursor {
                from_ms: r.from_ms as i64,
                anchor_ms: r.anchor_ms as i64,
                last_fire_ms: r.last_fire_ms.map(|v| v as i64),
            },
            next: None,
            retry_at: None,
        };
        e.refresh(&(r.group.clone(), r.name.clone()));
        e
    }

    pub fn record(&self, key: &Key) -> Result<ScheduleRecord, serde_json::Error> {
        Ok(ScheduleRecord {
            group: key.0.clone(),
            name: key.1.clone(),
            definition: serde_json::to_string(&self.def)?,
            created_ms: self.created_ms as u64,
            modified_ms: self.modified_ms as u64,
            from_ms: self.cursor.from_ms as u64,
            anchor_ms: self.cursor.anchor_ms as u64,
            last_fire_ms: self.cursor.last_fire_ms.map(|v| v as u64),
        })
    }

    /// Works the next fire out again (after a change or a fire).
    pub fn refresh(&mut self, key: &Key) {
        self.next = self.timing.as_ref().and_then(|t| {
            let s = t.next_scheduled(&self.cursor)?;
            Some((s, t.due(&jitter_key(key), s)))
        });
    }

    /// When it fires next, if it is enabled.
    pub fn next_due(&self) -> Option<i64> {
        if !self.def.enabled {
            return None;
        }
        let (_, due) = self.next?;
        Some(due.max(self.retry_at.unwrap_or(i64::MIN)))
    }
}

fn jitter_key(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
}

/// Groups and schedules.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub groups: BTreeMap<String, ScheduleGroupRecord>,
    pub schedules: BTreeMap<Key, Entry>,
}

/// A fire the loop is about to queue, and what it changes once queued.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub key: Key,
    pub scheduled_ms: i64,
    /// The schedule's last fire time from now on.
    pub last_fire_ms: i64,
    /// It was the last fire and the schedule goes (`ActionAfterCompletion: DELETE`).
    pub delete: bool,
    /// The function the fire invokes.
    pub function: lambdalet_core::FunctionRef,
    pub fire: Fire,
}

impl Table {
    /// The fires due at `now`, one per schedule: a schedule whose times passed while the
    /// daemon was down fires once, and that fire counts for all of them.
    pub fn plan(&self, now: i64, account: &AccountInfo) -> Vec<Planned> {
        let mut out = Vec::new();
        for (key, e) in &self.schedules {
            let (Some(due), Some((scheduled, planned_due)), Some(timing)) =
                (e.next_due(), e.next, e.timing.as_ref())
            else {
                continue;
            };
            if due > now {
                continue;
            }
            let Some(function) = e.def.function() else {
                continue;
            };
            let last_fire_ms = if now - planned_due > LATE_MS {
                now.max(scheduled)
            } else {
                scheduled
            };
            let after = Cursor {
                last_fire_ms: Some(last_fire_ms),
                ..e.cursor
            };
            let delete = e.def.delete_after_completion && timing.next_scheduled(&after).is_none();
            let arn = schedule_arn(account, &key.0, &key.1);
            let execution_id = uuid::Uuid::new_v4().to_string();
            let payload = crate::input::render(
                e.def.target.input.as_deref(),
                &arn,
                scheduled,
                &execution_id,
            );
            let fire = Fire {
                request: AsyncRequest {
                    function: function.name.to_string(),
                    qualifier: function.qualifier.as_ref().map(ToString::to_string),
                    payload: bytes::Bytes::from(payload),
                    client_context: None,
                },
                options: SubmitOptions {
                    delivery: Some(DeliveryPolicy {
                        max_retry_attempts: e.def.target.maximum_retry_attempts,
                        max_event_age_secs: e.def.target.maximum_event_age_in_seconds,
                        dead_letter: e.def.target.dead_letter_arn.clone(),
                    }),
                    along: Some(AlongWith::ScheduleFired {
                        group: key.0.clone(),
                        name: key.1.clone(),
                        fired_ms: last_fire_ms as u64,
                        delete,
                    }),
                },
            };
            out.push(Planned {
                key: key.clone(),
                scheduled_ms: scheduled,
                last_fire_ms,
                delete,
                function,
                fire,
            });
        }
        out
    }

    /// The earliest time any schedule is due.
    pub fn earliest_due(&self) -> Option<i64> {
        self.schedules.values().filter_map(Entry::next_due).min()
    }

    /// A fire was queued: the schedule moves on, or goes.
    pub fn fired(&mut self, p: &Planned) {
        if p.delete {
            self.schedules.remove(&p.key);
            return;
        }
        if let Some(e) = self.schedules.get_mut(&p.key) {
            e.cursor.last_fire_ms = Some(p.last_fire_ms);
            e.retry_at = None;
            e.refresh(&p.key);
        }
    }
}

/// `arn:aws:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME`.
pub fn schedule_arn(account: &AccountInfo, group: &str, name: &str) -> String {
    format!(
        "arn:{}:scheduler:{}:{}:schedule/{group}/{name}",
        account.partition, account.region, account.account_id
    )
}

/// `arn:aws:scheduler:REGION:ACCOUNT:schedule-group/NAME`.
pub fn group_arn(account: &AccountInfo, name: &str) -> String {
    format!(
        "arn:{}:scheduler:{}:{}:schedule-group/{name}",
        account.partition, account.region, account.account_id
    )
}
