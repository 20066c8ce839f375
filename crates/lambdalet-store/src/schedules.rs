//! EventBridge Scheduler's schedule groups and schedules: rows only. What a schedule means, and
//! when it fires, is `lambdalet-schedule`'s; a fire's `last_fire_ms` (or the schedule's removal
//! after its last fire) is written by the async queue's writer in the transaction that stores
//! the fire's event ([`AlongWith`]), so a fire is never queued twice nor lost.

use rusqlite::{Row, Transaction, params};

use crate::db::Store;
use crate::error::StoreError;

/// The group every account has, which cannot be deleted.
pub const DEFAULT_SCHEDULE_GROUP: &str = "default";

/// One schedule group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleGroupRecord {
    pub name: String,
    pub created_ms: u64,
    pub modified_ms: u64,
    /// `[{"Key":..,"Value":..}]` as given at creation.
    pub tags: String,
    /// The `ClientToken` it was created with (a retried create with it succeeds).
    pub client_token: Option<String>,
}

/// One schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub group: String,
    pub name: String,
    /// The validated schedule, JSON (its shape is `lambdalet-schedule`'s).
    pub definition: String,
    pub created_ms: u64,
    pub modified_ms: u64,
    /// No fire is scheduled before this (the last create or update).
    pub from_ms: u64,
    /// Where a `rate()` counts from when the schedule has no `StartDate`.
    pub anchor_ms: u64,
    /// The scheduled time of the last fire.
    pub last_fire_ms: Option<u64>,
}

/// A change committed in the same transaction as the events it comes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlongWith {
    /// A schedule fired: its last fire time, or (after its last fire, with
    /// `ActionAfterCompletion: DELETE`) its removal.
    ScheduleFired {
        group: String,
        name: String,
        fired_ms: u64,
        delete: bool,
    },
}

impl AlongWith {
    pub(crate) fn apply(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        match self {
            Self::ScheduleFired {
                group,
                name,
                delete: true,
                ..
            } => {
                tx.execute(
                    "DELETE FROM schedules WHERE group_name = ?1 AND name = ?2",
                    params![group, name],
                )?;
            }
            Self::ScheduleFired {
                group,
                name,
                fired_ms,
                delete: false,
            } => {
                tx.execute(
                    "UPDATE schedules SET last_fire_ms = ?3 WHERE group_name = ?1 AND name = ?2",
                    params![group, name, *fired_ms as i64],
                )?;
            }
        }
        Ok(())
    }
}

fn group_from_row(r: &Row<'_>) -> rusqlite::Result<ScheduleGroupRecord> {
    Ok(ScheduleGroupRecord {
        name: r.get(0)?,
        created_ms: r.get::<_, i64>(1)? as u64,
        modified_ms: r.get::<_, i64>(2)? as u64,
        tags: r.get(3)?,
        client_token: r.get(4)?,
    })
}

fn schedule_from_row(r: &Row<'_>) -> rusqlite::Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        group: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
        created_ms: r.get::<_, i64>(3)? as u64,
        modified_ms: r.get::<_, i64>(4)? as u64,
        from_ms: r.get::<_, i64>(5)? as u64,
        anchor_ms: r.get::<_, i64>(6)? as u64,
        last_fire_ms: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
    })
}

impl Store {
    /// Every schedule group, by name.
    pub fn load_schedule_groups(&self) -> Result<Vec<ScheduleGroupRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT name, created_ms, modified_ms, tags, client_token FROM schedule_groups ORDER BY name",
        )?;
        let rows = stmt
            .query_map([], group_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every schedule, by group and name.
    pub fn load_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT group_name, name, definition, created_ms, modified_ms, from_ms, anchor_ms, last_fire_ms
             FROM schedules ORDER BY group_name, name",
        )?;
        let rows = stmt
            .query_map([], schedule_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Stores a new group; one of that name is a conflict.
    pub fn insert_schedule_group(&self, g: &ScheduleGroupRecord) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        let n = conn.execute(
            "INSERT OR IGNORE INTO schedule_groups (name, created_ms, modified_ms, tags, client_token)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                g.name,
                g.created_ms as i64,
                g.modified_ms as i64,
                g.tags,
                g.client_token
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "schedule group {} already exists",
                g.name
            )));
        }
        Ok(())
    }

    /// Removes a group and its schedules (one transaction); returns how many schedules went.
    pub fn delete_schedule_group(&self, name: &str) -> Result<usize, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let schedules = tx.execute("DELETE FROM schedules WHERE group_name = ?1", [name])?;
        let n = tx.execute("DELETE FROM schedule_groups WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "schedule group {name} does not exist"
            )));
        }
        tx.commit()?;
        Ok(schedules)
    }

    /// Replaces a group's tags and modification time.
    pub fn update_schedule_group(&self, g: &ScheduleGroupRecord) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        let n = conn.execute(
            "UPDATE schedule_groups SET modified_ms = ?2, tags = ?3 WHERE name = ?1",
            params![g.name, g.modified_ms as i64, g.tags],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "schedule group {} does not exist",
                g.name
            )));
        }
        Ok(())
    }

    /// Records a fire that queued no event (the invocation was not allowed): the same change
    /// a queued fire commits with its event.
    pub fn record_schedule_fire(&self, fire: &AlongWith) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        fire.apply(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Creates or replaces a schedule.
    pub fn put_schedule(&self, s: &ScheduleRecord) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute(
            "INSERT OR REPLACE INTO schedules
             (group_name, name, definition, created_ms, modified_ms, from_ms, anchor_ms, last_fire_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                s.group,
                s.name,
                s.definition,
                s.created_ms as i64,
                s.modified_ms as i64,
                s.from_ms as i64,
                s.anchor_ms as i64,
                s.last_fire_ms.map(|v| v as i64)
            ],
        )?;
        Ok(())
    }

    /// Removes a schedule; false when there was none.
    pub fn delete_schedule(&self, group: &str, name: &str) -> Result<bool, StoreError> {
        let conn = self.conn.lock();
        let n = conn.execute(
            "DELETE FROM schedules WHERE group_name = ?1 AND name = ?2",
            params![group, name],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(group: &str, name: &str) -> ScheduleRecord {
        ScheduleRecord {
            group: group.to_owned(),
            name: name.to_owned(),
            definition: "{}".to_owned(),
            created_ms: 1,
            modified_ms: 2,
            from_ms: 3,
            anchor_ms: 4,
            last_fire_ms: None,
        }
    }

    #[test]
    fn the_default_group_exists_and_groups_take_their_schedules_along() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let groups = store.load_schedule_groups().expect("groups");
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].name, DEFAULT_SCHEDULE_GROUP);
        assert!(groups[0].created_ms > 1_600_000_000_000);
        let g = ScheduleGroupRecord {
            name: "nightly".to_owned(),
            created_ms: 5,
            modified_ms: 5,
            tags: "[]".to_owned(),
            client_token: Some("t".to_owned()),
        };
        store.insert_schedule_group(&g).expect("insert");
        assert!(matches!(
            store.insert_schedule_group(&g),
            Err(StoreError::Conflict(_))
        ));
        store.put_schedule(&schedule("nightly", "a")).expect("a");
        store.put_schedule(&schedule("nightly", "b")).expect("b");
        store.put_schedule(&schedule("default", "c")).expect("c");
        assert!(
            store.put_schedule(&schedule("missing", "d")).is_err(),
            "a schedule needs its group"
        );
        assert_eq!(store.delete_schedule_group("nightly").expect("delete"), 2);
        let left: Vec<String> = store
            .load_schedules()
            .expect("load")
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(left, ["c"]);
        assert!(store.delete_schedule("default", "c").expect("delete"));
        assert!(!store.delete_schedule("default", "c").expect("again"));
    }

    #[test]
    fn a_fire_commits_with_its_event() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.put_schedule(&schedule("default", "a")).expect("a");
        store
            .put_schedule(&schedule("default", "once"))
            .expect("once");
        let q = crate::AsyncQueueStore::start(&store).expect("queue");
        let event = |n: u8| crate::NewAsyncEvent {
            request_id: format!("r{n}"),
            function: "f".to_owned(),
            qualifier: None,
            payload: bytes::Bytes::from(vec![n]),
            client_context: None,
            received_ms: 1,
            next_attempt_ms: 1,
            delivery: Some("{}".to_owned()),
        };
        let fired = |name: &str, delete| AlongWith::ScheduleFired {
            group: "default".to_owned(),
            name: name.to_owned(),
            fired_ms: 60_000,
            delete,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let tx2 = tx.clone();
        q.enqueue_along(vec![event(1)], Some(fired("a", false)), move |r| {
            let _ = tx.send(r);
        })
        .expect("send");
        q.enqueue_along(vec![event(2)], Some(fired("once", true)), move |r| {
            let _ = tx2.send(r);
        })
        .expect("send");
        for _ in 0..2 {
            assert!(rx.recv().expect("ack").is_ok());
        }
        let schedules = store.load_schedules().expect("load");
        assert_eq!(schedules.len(), 1);
        assert_eq!(schedules[0].last_fire_ms, Some(60_000));
        let pending = q.load_pending().expect("pending");
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].delivery.as_deref(), Some("{}"));
    }
}
