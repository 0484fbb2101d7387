//! Live events (team changes, positions, dispatch alerts, incidents) and who gets
//! them, through the [`EventBus`] trait: in-process now ([`LocalBus`]), a networked bus (NATS)
//! later, so that several nodes can share one stream.
//!
//! Each event has an id that grows by one per event of this bus, so a client that reconnects
//! with the last id it saw gets what it missed, while the bus still holds it (the last
//! [`KEEP_EVENTS`] events of the last [`KEEP_SECS`] seconds).

use pp_domain::time::Timestamp;
use pp_domain::{Role, UserId};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events kept for replay, at most.
pub const KEEP_EVENTS: usize = 10_000;
/// Seconds an event is kept for replay, at most.
pub const KEEP_SECS: i64 = 300;
/// Events a slow subscriber may fall behind before it must catch up from the replay log.
const CHANNEL: usize = 4096;

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These users.
    Users(Vec<UserId>),
    /// Everyone with one of these roles (the command centre).
    Roles(Vec<Role>),
    /// The staff of this department (by code).
    Department(String),
    /// Anyone in one of these audiences (each gets the event once).
    Any(Vec<Audience>),
    /// Commanders and admins who asked for live positions.
    PositionWatchers,
}

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Grows by one per event of the bus.
    pub id: u64,
    /// The SSE `event` field: `team`, `positions`, …
    pub kind: &'static str,
    /// The SSE `data` field.
    pub data: serde_json::Value,
    /// Who may see it.
    pub audience: Audience,
    /// When it was published.
    pub at: Timestamp,
}

/// A subscriber: who it is, and whether it asked for positions.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// the user
    pub user: UserId,
    /// their role
    pub role: Role,
    /// their department (staff)
    pub department: Option<String>,
    /// a command-centre user who asked for live positions
    pub positions: bool,
}

impl Event {
    /// Whether `s` gets this event.
    pub fn is_for(&self, s: &Subscriber) -> bool {
        self.audience.includes(s)
    }
}

impl Audience {
    /// Whether `s` is in this audience.
    pub fn includes(&self, s: &Subscriber) -> bool {
        match self {
            Audience::Users(users) => users.contains(&s.user),
            Audience::Roles(roles) => roles.contains(&s.role),
            Audience::Department(code) => {
                s.role == Role::Staff && s.department.as_deref() == Some(code.as_str())
            }
            Audience::Any(audiences) => audiences.iter().any(|a| a.includes(s)),
            Audience::PositionWatchers => s.positions,
        }
    }
}

/// Carries events between the parts of the server that make them and the streams of the
/// users they are for.
pub trait EventBus: Send + Sync + std::fmt::Debug {
    /// Publishes an event.
    fn publish(
        &self,
        kind: &'static str,
        audience: Audience,
        data: serde_json::Value,
        now: Timestamp,
    );
    /// New events from now on.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;
    /// The kept events after `last_id` (the replay of a reconnecting client), oldest first;
    /// `None` when some of them are no longer kept, or `last_id` is not one of this bus's
    /// (an id from before a restart, or from another node).
    fn since(&self, last_id: u64) -> Option<Vec<Arc<Event>>>;
    /// Whether anyone watches positions now (so the ingest pipeline can skip making them).
    fn positions_watched(&self) -> bool;
    /// Counts a subscriber that watches positions, until the guard is dropped.
    fn watch_positions(self: Arc<Self>) -> PositionsWatch;
}

/// Counts a positions watcher while it lives.
#[derive(Debug)]
pub struct PositionsWatch(Arc<AtomicUsize>);

impl Drop for PositionsWatch {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The in-process bus: a broadcast channel and a bounded replay log.
#[derive(Debug)]
pub struct LocalBus {
    tx: broadcast::Sender<Arc<Event>>,
    log: Mutex<Log>,
    watchers: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct Log {
    next_id: u64,
    events: VecDeque<Arc<Event>>,
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus {
            tx: broadcast::channel(CHANNEL).0,
            log: Mutex::new(Log {
                next_id: 1,
                events: VecDeque::new(),
            }),
            watchers: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl EventBus for LocalBus {
    fn publish(
        &self,
        kind: &'static str,
        audience: Audience,
        data: serde_json::Value,
        now: Timestamp,
    ) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let event = Arc::new(Event {
            id: log.next_id,
            kind,
            data,
            audience,
            at: now,
        });
        log.next_id += 1;
        let oldest = now - chrono::Duration::seconds(KEEP_SECS);
        while log
            .events
            .front()
            .is_some_and(|e| e.at < oldest || log.events.len() >= KEEP_EVENTS)
        {
            log.events.pop_front();
        }
        log.events.push_back(Arc::clone(&event));
        // sent under the lock, so subscribers see the events in id order; nobody listening is
        // not an error
        let _ = self.tx.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    fn since(&self, last_id: u64) -> Option<Vec<Arc<Event>>> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let first = log.events.front().map_or(log.next_id, |e| e.id);
        if last_id.saturating_add(1) < first || last_id >= log.next_id {
            return None;
        }
        Some(
            log.events
                .iter()
                .filter(|e| e.id > last_id)
                .cloned()
                .collect(),
        )
    }

    fn positions_watched(&self) -> bool {
        self.watchers.load(Ordering::Acquire) > 0
    }

    fn watch_positions(self: Arc<Self>) -> PositionsWatch {
        self.watchers.fetch_add(1, Ordering::AcqRel);
        PositionsWatch(Arc::clone(&self.watchers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn events_are_numbered_routed_and_kept_for_replay() {
        let bus = LocalBus::default();
        let t = Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap();
        let (a, b) = (UserId::new(), UserId::new());
        let mut rx = bus.subscribe();
        bus.publish("team", Audience::Users(vec![a]), serde_json::json!(1), t);
        bus.publish(
            "incident",
            Audience::Roles(vec![Role::Commander]),
            serde_json::json!(2),
            t,
        );
        let first = rx.try_recv().unwrap();
        assert_eq!((first.id, first.kind), (1, "team"));
        let sa = Subscriber {
            user: a,
            role: Role::Envoy,
            department: None,
            positions: false,
        };
        let sb = Subscriber {
            user: b,
            role: Role::Commander,
            department: None,
            positions: false,
        };
        assert!(first.is_for(&sa) && !first.is_for(&sb));
        let staff = |department: &str| Subscriber {
            user: UserId::new(),
            role: Role::Staff,
            department: Some(department.to_owned()),
            positions: false,
        };
        let for_sanitation = Event {
            id: 9,
            kind: "incident",
            data: serde_json::Value::Null,
            audience: Audience::Department("sanitation".to_owned()),
            at: t,
        };
        assert!(for_sanitation.is_for(&staff("sanitation")));
        assert!(!for_sanitation.is_for(&staff("urban_management")));
        assert!(!for_sanitation.is_for(&sb));
        let either = Event {
            audience: Audience::Any(vec![
                Audience::Users(vec![a]),
                Audience::Department("sanitation".to_owned()),
            ]),
            ..for_sanitation
        };
        assert!(either.is_for(&sa) && either.is_for(&staff("sanitation")));
        assert!(!either.is_for(&sb) && !either.is_for(&staff("parks")));
        assert!(rx.try_recv().unwrap().is_for(&sb));
        assert_eq!(bus.since(0).unwrap().len(), 2);
        assert_eq!(bus.since(1).unwrap().len(), 1);
        assert!(bus.since(2).unwrap().is_empty());
        // an id this bus never gave (before a restart, another node) cannot be replayed from
        assert!(bus.since(3).is_none());
        assert!(bus.since(u64::MAX).is_none());
        // five minutes later the old ones are gone: a replay from before them is refused
        bus.publish(
            "team",
            Audience::Users(vec![a]),
            serde_json::json!(3),
            t + chrono::Duration::seconds(KEEP_SECS + 1),
        );
        assert!(bus.since(0).is_none());
        assert_eq!(bus.since(2).unwrap().len(), 1);
        // watchers are counted while they live
        let bus = Arc::new(bus);
        assert!(!bus.positions_watched());
        let w = Arc::clone(&bus).watch_positions();
        assert!(bus.positions_watched());
        drop(w);
        assert!(!bus.positions_watched());
    }
}
