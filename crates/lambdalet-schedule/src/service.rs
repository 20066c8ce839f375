//! [`Schedules`]: the Scheduler API's operations over the stored schedules and groups.
//!
//! Every change is written to the store first, then to the in-memory table, under one lock
//! that the firing loop also takes while it queues fires, so a fire and a change never cross.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lambdalet_core::AccountInfo;
use lambdalet_store::{DEFAULT_SCHEDULE_GROUP, Store};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::definition::{self, Definition, ScheduleInput, check_name};
use crate::error::ScheduleError;
use crate::sink::{FireSink, Functions};
use crate::table::{Entry, Key, Table, schedule_arn};
use crate::timing::Cursor;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct ScheduleStats {
    /// Fires queued.
    pub fired: AtomicU64,
    /// Fires the queue could not take (tried again 5 s later).
    pub fire_failures: AtomicU64,
    /// Scheduler API operations, and those refused.
    pub operations: AtomicU64,
    pub refused: AtomicU64,
}

/// A schedule as GetSchedule and ListSchedules show it.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    pub group: String,
    pub name: String,
    pub arn: String,
    pub definition: Definition,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// When it fires next (`None`: disabled, or no fire left).
    pub next_fire_ms: Option<i64>,
    pub last_fire_ms: Option<i64>,
    /// Whether the target function's policy lets this schedule invoke it (fires are dropped
    /// while it does not).
    pub permitted: bool,
}

/// A schedule group.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub tags: Value,
}

/// ListSchedules' filters and page.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub group: Option<String>,
    pub name_prefix: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

/// The schedules of this daemon.
pub struct Schedules {
    pub(crate) store: Store,
    pub(crate) account: AccountInfo,
    pub(crate) functions: Arc<dyn Functions>,
    pub(crate) sink: Arc<dyn FireSink>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) table: Mutex<Table>,
    /// Serializes changes and fires.
    pub(crate) writes: tokio::sync::Mutex<()>,
    pub(crate) wake: Notify,
    pub(crate) closing: AtomicBool,
    pub stats: ScheduleStats,
}

impl Schedules {
    /// Loads the stored groups and schedules. [`Schedules::start`] begins firing.
    pub async fn open(
        store: Store,
        account: AccountInfo,
        functions: Arc<dyn Functions>,
        sink: Arc<dyn FireSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, ScheduleError> {
        let s = store.clone();
        let (groups, schedules) = tokio::task::spawn_blocking(move || {
            Ok::<_, ScheduleError>((s.load_schedule_groups()?, s.load_schedules()?))
        })
        .await
        .map_err(|e| ScheduleError::Internal(e.to_string()))??;
        let mut table = Table::default();
        for g in groups {
            table.groups.insert(g.name.clone(), g);
        }
        for r in schedules {
            match serde_json::from_str::<Definition>(&r.definition) {
                Ok(def) => {
                    let entry = Entry::from_record(&r, def);
                    table.schedules.insert((r.group, r.name), entry);
                }
                Err(e) => {
                    tracing::error!(group = %r.group, schedule = %r.name, "schedule.unreadable: skipped: {e}")
                }
            }
        }
        tracing::info!(
            groups = table.groups.len(),
            schedules = table.schedules.len(),
            "schedules.loaded"
        );
        Ok(Arc::new(Self {
            store,
            account,
            functions,
            sink,
            clock,
            table: Mutex::new(table),
            writes: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            closing: AtomicBool::new(false),
            stats: ScheduleStats::default(),
        }))
    }

    pub fn account(&self) -> &AccountInfo {
        &self.account
    }

    /// Runs a store operation off the async threads.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ScheduleError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, lambdalet_store::StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ScheduleError::Internal(e.to_string()))??)
    }

    /// Counts an operation and its outcome.
    pub(crate) fn counted<T>(&self, r: Result<T, ScheduleError>) -> Result<T, ScheduleError> {
        self.stats.operations.fetch_add(1, Ordering::Relaxed);
        if r.is_err() {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// CreateSchedule: returns the schedule's ARN.
    pub async fn create(&self, name: &str, input: ScheduleInput) -> Result<String, ScheduleError> {
        let r = self.create_inner(name, input).await;
        self.counted(r)
    }

    async fn create_inner(
        &self,
        name: &str,
        input: ScheduleInput,
    ) -> Result<String, ScheduleError> {
        check_name("schedule name", name)?;
        let group = self.group_of(input.group_name.as_deref())?;
        let now = self.clock.now_ms();
        let checked = definition::check(input, &self.account, now)?;
        self.check_functions(&checked)?;
        let key: Key = (group.clone(), name.to_owned());
        let arn = schedule_arn(&self.account, &group, name);
        let _w = self.writes.lock().await;
        {
            let t = self.table.lock();
            if !t.groups.contains_key(&group) {
                return Err(self.group_not_found(&t, &group));
            }
            if let Some(existing) = t.schedules.get(&key) {
                if existing.def.client_token.is_some()
                    && existing.def.client_token == checked.definition.client_token
                {
                    return Ok(arn);
                }
                return Err(ScheduleError::Conflict(format!(
                    "Schedule {name} already exists in group {group}: change it with update-schedule, or delete it first"
                )));
            }
        }
        let mut entry = Entry {
            def: checked.definition,
            timing: Some(checked.timing),
            created_ms: now,
            modified_ms: now,
            cursor: Cursor {
                from_ms: now,
                anchor_ms: now,
                last_fire_ms: None,
            },
            next: None,
            retry_at: None,
        };
        entry.refresh(&key);
        let record = entry
            .record(&key)
            .map_err(|e| ScheduleError::Internal(e.to_string()))?;
        self.blocking(move |s| s.put_schedule(&record)).await?;
        tracing::info!(group = %group, schedule = %name, expression = %entry.def.expression, next_fire = ?entry.next_due(), "schedule.created");
        self.warn_unless_permitted(&arn, &checked.function);
        self.table.lock().schedules.insert(key, entry);
        self.wake.notify_one();
        Ok(arn)
    }

    /// UpdateSchedule: replaces the schedule's settings whole.
    pub async fn update(&self, name: &str, input: ScheduleInput) -> Result<String, ScheduleError> {
        let r = self.update_inner(name, input).await;
        self.counted(r)
    }

    async fn update_inner(
        &self,
        name: &str,
        input: ScheduleInput,
    ) -> Result<String, ScheduleError> {
        check_name("schedule name", name)?;
        let group = self.group_of(input.group_name.as_deref())?;
        let now = self.clock.now_ms();
        let checked = definition::check(input, &self.account, now)?;
        self.check_functions(&checked)?;
        let key: Key = (group.clone(), name.to_owned());
        let _w = self.writes.lock().await;
        let old = {
            let t = self.table.lock();
            t.schedules
                .get(&key)
                .cloned()
                .ok_or_else(|| self.schedule_not_found(&t, &group, name))?
        };
        // A rate counts again from now when its expression or start changes.
        let same_rate = old.def.expression == checked.definition.expression
            && old.def.start_ms == checked.definition.start_ms;
        let mut entry = Entry {
            def: checked.definition,
            timing: Some(checked.timing),
            created_ms: old.created_ms,
            modified_ms: now,
            cursor: Cursor {
                from_ms: now,
                anchor_ms: if same_rate { old.cursor.anchor_ms } else { now },
                last_fire_ms: old.cursor.last_fire_ms,
            },
            next: None,
            retry_at: None,
        };
        entry.refresh(&key);
        let record = entry
            .record(&key)
            .map_err(|e| ScheduleError::Internal(e.to_string()))?;
        self.blocking(move |s| s.put_schedule(&record)).await?;
        tracing::info!(group = %group, schedule = %name, expression = %entry.def.expression, next_fire = ?entry.next_due(), "schedule.updated");
        let arn = schedule_arn(&self.account, &group, name);
        self.warn_unless_permitted(&arn, &checked.function);
        self.table.lock().schedules.insert(key, entry);
        self.wake.notify_one();
        Ok(arn)
    }

    /// DeleteSchedule.
    pub async fn delete(&self, group: Option<&str>, name: &str) -> Result<(), ScheduleError> {
        let r = self.delete_inner(group, name).await;
        self.counted(r)
    }

    async fn delete_inner(&self, group: Option<&str>, name: &str) -> Result<(), ScheduleError> {
        check_name("schedule name", name)?;
        let group = self.group_of(group)?;
        let _w = self.writes.lock().await;
        {
            let t = self.table.lock();
            if !t.schedules.contains_key(&(group.clone(), name.to_owned())) {
                return Err(self.schedule_not_found(&t, &group, name));
            }
        }
        let (g, n) = (group.clone(), name.to_owned());
        self.blocking(move |s| s.delete_schedule(&g, &n)).await?;
        self.table
            .lock()
            .schedules
            .remove(&(group.clone(), name.to_owned()));
        tracing::info!(group = %group, schedule = %name, "schedule.deleted");
        self.wake.notify_one();
        Ok(())
    }

    /// GetSchedule.
    pub fn get(&self, group: Option<&str>, name: &str) -> Result<ScheduleView, ScheduleError> {
        let r = (|| {
            check_name("schedule name", name)?;
            let group = self.group_of(group)?;
            let t = self.table.lock();
            let key = (group.clone(), name.to_owned());
            let e = t
                .schedules
                .get(&key)
                .ok_or_else(|| self.schedule_not_found(&t, &group, name))?;
            Ok(self.view(&key, e))
        })();
        self.counted(r)
    }

    /// Says in the log, with the command that fixes it, when the schedule's target does not
    /// let it invoke (its fires would be dropped).
    fn warn_unless_permitted(&self, arn: &str, function: &lambdalet_core::FunctionRef) {
        if !self.functions.may_invoke(arn, function) {
            tracing::warn!(
                schedule = %arn,
                function = %function.name,
                qualifier = ?function.qualifier.as_ref().map(ToString::to_string),
                "schedule.not_permitted: the function's policy does not let this schedule invoke it, so its fires are dropped until it does: {}",
                crate::sink::grant_command(arn, function)
            );
        }
    }

    fn group_of(&self, group: Option<&str>) -> Result<String, ScheduleError> {
        let g = group.unwrap_or(DEFAULT_SCHEDULE_GROUP);
        check_name("schedule group name", g)?;
        Ok(g.to_owned())
    }

    fn check_functions(&self, c: &definition::Checked) -> Result<(), ScheduleError> {
        self.functions.check(&c.function).map_err(|e| {
            ScheduleError::Validation(format!(
                "Target.Arn {}: {e}; create the function first (aws lambda create-function) or name one that exists",
                c.definition.target.arn
            ))
        })?;
        if let Some(f) = &c.dead_letter_function {
            self.functions
                .check(f)
                .map_err(|e| ScheduleError::Validation(format!("DeadLetterConfig.Arn: {e}")))?;
        }
        Ok(())
    }

    pub(crate) fn group_not_found(&self, t: &Table, group: &str) -> ScheduleError {
        ScheduleError::NotFound(format!(
            "Schedule group {group} does not exist: create it with `aws scheduler create-schedule-group --name {group}` (groups: {})",
            t.groups.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    }

    fn schedule_not_found(&self, t: &Table, group: &str, name: &str) -> ScheduleError {
        if !t.groups.contains_key(group) {
            return self.group_not_found(t, group);
        }
        let names: Vec<&str> = t
            .schedules
            .keys()
            .filter(|(g, _)| g == group)
            .map(|(_, n)| n.as_str())
            .take(20)
            .collect();
        ScheduleError::NotFound(format!(
            "Schedule {name} does not exist in group {group} (its schedules: {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ))
    }
}
