//! Emergency dispatch: the command centre alerts the nearest available envoys to a point, they
//! accept or decline, and the search widens when too few accept in time.
//!
//! The rules, as the volunteer-responder systems run them (GoodSAM, PulsePoint; see the
//! project's reference notes):
//! - A dispatch keeps up to a **quota** of envoys engaged (alerted and not yet answered, or
//!   accepted): `needed` plus an **overfill** (some will decline or not answer), and each
//!   escalation adds as many again. An envoy's answer — or its absence, past the alert's
//!   timeout — frees a place, which passes at once to the next nearest available envoy.
//! - **Escalation**: while fewer than `needed` have accepted, every `escalate_after` the radius
//!   doubles (up to the policy's maximum) and the quota grows, so the next nearest are alerted
//!   too; at most [`MAX_ESCALATIONS`] times.
//! - Once `needed` envoys have accepted nobody new is alerted; those still alerted may yet
//!   accept (more help is not turned away) until their alert expires.
//! - An accepted envoy marks arrival only from within [`ARRIVAL_RADIUS_M`] of the point, and
//!   may withdraw (decline) before arriving, which passes the place on like any decline.
//! - Closing the dispatch withdraws the alerts not yet answered (they expire).
//!
//! Who the nearest available envoys are is the live index's business (the server's); these
//! rules decide how many to alert, and every transition of a dispatch and of its recipients.

use crate::time::Timestamp;
use crate::{DomainError, DomainResult, UserId};
use pp_geo::LatLng;

/// An envoy marks arrival only this close to the point (great-circle metres).
pub const ARRIVAL_RADIUS_M: f64 = 100.0;
/// The most envoys one dispatch may ask for.
pub const MAX_NEEDED: u32 = 20;
/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// The widest first radius a dispatch may ask for (metres).
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// How many times a dispatch widens at most.
pub const MAX_ESCALATIONS: u32 = 5;
/// The most envoys one dispatch keeps alerted at once, whatever its escalations.
pub const MAX_QUOTA: u32 = 100;

/// A district's dispatch settings; each dispatch keeps the ones it was opened with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DispatchPolicy {
    /// Envoys alerted beyond `needed` (some will decline or not answer).
    pub overfill: u32,
    /// How long an alert waits for an answer before it passes to the next envoy.
    pub alert_timeout: chrono::Duration,
    /// How long a dispatch waits for `needed` acceptances before it widens.
    pub escalate_after: chrono::Duration,
    /// The widest the radius grows to (metres).
    pub max_radius_m: f64,
}

impl Default for DispatchPolicy {
    /// One envoy of overfill, alerts answered within 45 s, escalation after 60 s, up to 5 km.
    fn default() -> Self {
        DispatchPolicy {
            overfill: 1,
            alert_timeout: chrono::Duration::seconds(45),
            escalate_after: chrono::Duration::seconds(60),
            max_radius_m: 5_000.0,
        }
    }
}

impl DispatchPolicy {
    /// Checks settings read from a configuration file.
    pub fn validate(&self) -> DomainResult<()> {
        let bad = |m: &str| Err(DomainError::invalid("invalid_dispatch_policy", m));
        if self.overfill > MAX_NEEDED {
            return bad("dispatch overfill must be at most 20");
        }
        if self.alert_timeout <= chrono::Duration::zero()
            || self.escalate_after <= chrono::Duration::zero()
        {
            return bad("dispatch alert timeout and escalation time must be positive");
        }
        if !(self.max_radius_m > 0.0 && self.max_radius_m <= MAX_RADIUS_M) {
            return bad("dispatch maximum radius must be above 0 and at most 50,000 m");
        }
        Ok(())
    }
}

/// A dispatch is `open` until a commander closes it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DispatchState {
    /// Alerting and waiting for help.
    Open,
    /// Over; nobody is alerted any more.
    Closed,
}

impl DispatchState {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchState::Open => "open",
            DispatchState::Closed => "closed",
        }
    }
    /// Parses the stored or wire name.
    pub fn parse(s: &str) -> DomainResult<DispatchState> {
        [DispatchState::Open, DispatchState::Closed]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "invalid_dispatch_state",
                    format!("unknown dispatch state {s:?} (open or closed)"),
                )
            })
    }
    /// Whether it still alerts.
    pub fn is_open(self) -> bool {
        self == DispatchState::Open
    }
}

/// An alerted envoy's state: `notified → accepted | declined | expired`, `accepted → arrived`
/// (or `declined`, when they withdraw).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Alerted; no answer yet.
    Notified,
    /// On the way.
    Accepted,
    /// Said no (or withdrew after accepting).
    Declined,
    /// Did not answer in time, or the dispatch closed first.
    Expired,
    /// On the scene.
    Arrived,
}

impl RecipientState {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Notified => "notified",
            RecipientState::Accepted => "accepted",
            RecipientState::Declined => "declined",
            RecipientState::Expired => "expired",
            RecipientState::Arrived => "arrived",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> DomainResult<RecipientState> {
        [
            RecipientState::Notified,
            RecipientState::Accepted,
            RecipientState::Declined,
            RecipientState::Expired,
            RecipientState::Arrived,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| {
            DomainError::invalid(
                "invalid_recipient_state",
                format!("unknown recipient state {s:?}"),
            )
        })
    }
    /// Alerted and not answered, or accepted: the envoy is taken by this dispatch while it is
    /// open (not available to others, and counted against its quota).
    pub fn is_engaged(self) -> bool {
        matches!(
            self,
            RecipientState::Notified | RecipientState::Accepted | RecipientState::Arrived
        )
    }
    /// Accepted (and maybe arrived): counts toward `needed`.
    pub fn has_accepted(self) -> bool {
        matches!(self, RecipientState::Accepted | RecipientState::Arrived)
    }
}

/// A dispatch as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// id
    pub id: crate::DispatchId,
    /// the commander who opened it
    pub created_by: UserId,
    /// when
    pub created_at: Timestamp,
    /// where help is needed
    pub at: LatLng,
    /// the current search radius (metres); doubles at each escalation
    pub radius_m: f64,
    /// how many envoys are needed there
    pub needed: u32,
    /// what is happening, as the envoys read it
    pub message: String,
    /// the settings it was opened with
    pub policy: DispatchPolicy,
    /// open or closed
    pub state: DispatchState,
    /// how many times it has widened
    pub escalations: u32,
    /// when it opened or last widened (the next escalation is due `escalate_after` later)
    pub escalated_at: Timestamp,
    /// when it closed
    pub closed_at: Option<Timestamp>,
    /// who closed it
    pub closed_by: Option<UserId>,
}

impl Dispatch {
    /// A new open dispatch, after checking what the commander asked for.
    pub fn open(
        by: UserId,
        at: LatLng,
        radius_m: f64,
        needed: u32,
        message: &str,
        policy: DispatchPolicy,
        now: Timestamp,
    ) -> DomainResult<Dispatch> {
        if !(radius_m > 0.0 && radius_m <= policy.max_radius_m) {
            return Err(DomainError::invalid(
                "invalid_radius",
                format!(
                    "radius_m must be above 0 and at most {} (this district's widest), got {radius_m}",
                    policy.max_radius_m
                ),
            ));
        }
        if !(1..=MAX_NEEDED).contains(&needed) {
            return Err(DomainError::invalid(
                "invalid_needed",
                format!("needed must be 1 to {MAX_NEEDED}, got {needed}"),
            ));
        }
        let message =
            crate::task::text("message", "invalid_message", message, 1, MAX_MESSAGE_CHARS)?;
        Ok(Dispatch {
            id: crate::DispatchId::new(),
            created_by: by,
            created_at: now,
            at,
            radius_m,
            needed,
            message,
            policy,
            state: DispatchState::Open,
            escalations: 0,
            escalated_at: now,
            closed_at: None,
            closed_by: None,
        })
    }

    /// Refuses anything but an open dispatch.
    pub fn check_open(&self) -> DomainResult<()> {
        match self.state {
            DispatchState::Open => Ok(()),
            DispatchState::Closed => Err(DomainError::conflict(
                "dispatch_closed",
                "this dispatch is closed",
            )),
        }
    }

    /// How many envoys it keeps engaged at most now: `needed + overfill`, and as many again
    /// for each escalation (never more than [`MAX_QUOTA`]).
    pub fn quota(&self) -> u32 {
        (self.needed + self.policy.overfill)
            .saturating_mul(self.escalations + 1)
            .min(MAX_QUOTA)
    }

    /// How many more envoys to alert now, given its recipients' states: none once closed or
    /// once `needed` have accepted; otherwise the places left in the quota.
    pub fn wanted(&self, recipients: &Tally) -> u32 {
        if self.state != DispatchState::Open || recipients.accepted() >= self.needed {
            return 0;
        }
        self.quota().saturating_sub(recipients.engaged())
    }

    /// When it widens next if fewer than `needed` have accepted by then: `escalate_after`
    /// after it opened or last widened; never once closed, once `needed` accepted, or after
    /// [`MAX_ESCALATIONS`].
    pub fn next_escalation_at(&self, recipients: &Tally) -> Option<Timestamp> {
        (self.state == DispatchState::Open
            && recipients.accepted() < self.needed
            && self.escalations < MAX_ESCALATIONS)
            .then(|| self.escalated_at + self.policy.escalate_after)
    }

    /// The radius the dispatch widens to now, if an escalation is due
    /// ([`Dispatch::next_escalation_at`] has come). At the maximum radius an escalation still
    /// grows the quota.
    pub fn escalation_due(&self, recipients: &Tally, now: Timestamp) -> Option<f64> {
        self.next_escalation_at(recipients)
            .filter(|due| now >= *due)
            .map(|_| (self.radius_m * 2.0).min(self.policy.max_radius_m.max(self.radius_m)))
    }

    /// Widens the search now (after [`Dispatch::escalation_due`] said so).
    pub fn escalate(&mut self, radius_m: f64, now: Timestamp) {
        self.radius_m = radius_m;
        self.escalations += 1;
        self.escalated_at = now;
    }

    /// Closes it (`by` a commander); closing a closed dispatch is a conflict.
    pub fn close(&mut self, by: UserId, now: Timestamp) -> DomainResult<()> {
        self.check_open()?;
        self.state = DispatchState::Closed;
        self.closed_at = Some(now);
        self.closed_by = Some(by);
        Ok(())
    }

    /// A new alert for `user`, `distance_m` from the point, sent `now`.
    pub fn alert(&self, user: UserId, distance_m: f64, now: Timestamp) -> Recipient {
        Recipient {
            user,
            state: RecipientState::Notified,
            distance_m,
            wave: self.escalations,
            notified_at: now,
            expires_at: now + self.policy.alert_timeout,
            answered_at: None,
            arrived_at: None,
        }
    }
}

/// An envoy alerted by a dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// who
    pub user: UserId,
    /// where they are in the alert's life
    pub state: RecipientState,
    /// great-circle metres from the point when alerted
    pub distance_m: f64,
    /// the escalation the alert went out in (0: the first)
    pub wave: u32,
    /// when alerted
    pub notified_at: Timestamp,
    /// when the alert passes on if not answered
    pub expires_at: Timestamp,
    /// when they accepted, declined or the alert expired
    pub answered_at: Option<Timestamp>,
    /// when they marked arrival
    pub arrived_at: Option<Timestamp>,
}

impl Recipient {
    /// Whether the alert waits for an answer past its time.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.state == RecipientState::Notified && now >= self.expires_at
    }

    /// The envoy answers. Returns whether anything changed: answering again the same way is
    /// not an error (a phone retries), answering after the alert expired or the dispatch
    /// closed is; an accepted envoy may withdraw (decline) until arrival.
    pub fn respond(
        &mut self,
        accept: bool,
        dispatch: &Dispatch,
        now: Timestamp,
    ) -> DomainResult<bool> {
        use RecipientState::*;
        // a retry of the answer already given
        if matches!(
            (self.state, accept),
            (Accepted | Arrived, true) | (Declined, false)
        ) {
            return Ok(false);
        }
        dispatch.check_open()?;
        match (self.state, accept) {
            (Expired, _) => Err(expired()),
            (Notified, _) if self.is_overdue(now) => Err(expired()),
            (Notified, true) => {
                self.state = Accepted;
                self.answered_at = Some(now);
                Ok(true)
            }
            (Notified | Accepted, false) => {
                self.state = Declined;
                self.answered_at = Some(now);
                Ok(true)
            }
            (Arrived, _) => Err(DomainError::conflict(
                "already_arrived",
                "you have marked arrival already",
            )),
            (Declined, true) => Err(DomainError::conflict(
                "already_declined",
                "you declined this alert; it has passed to someone else",
            )),
            // retries, answered above
            (Accepted, true) | (Declined, false) => Ok(false),
        }
    }

    /// The alert expires unanswered (past its time, or the dispatch closed).
    pub fn expire(&mut self, now: Timestamp) {
        if self.state == RecipientState::Notified {
            self.state = RecipientState::Expired;
            self.answered_at = Some(now);
        }
    }

    /// The envoy marks arrival from `at`, their latest known position (`None`: none known):
    /// within [`ARRIVAL_RADIUS_M`] great-circle metres of the point. Returns whether anything
    /// changed (arriving twice is not an error).
    pub fn arrive(
        &mut self,
        dispatch: &Dispatch,
        at: Option<LatLng>,
        now: Timestamp,
    ) -> DomainResult<bool> {
        match self.state {
            RecipientState::Arrived => return Ok(false),
            RecipientState::Accepted => {}
            other => {
                return Err(DomainError::conflict(
                    "not_accepted",
                    format!(
                        "only an envoy who accepted marks arrival; this alert is {}",
                        other.as_str()
                    ),
                ))
            }
        }
        dispatch.check_open()?;
        let Some(distance_m) = at.map(|at| pp_geo::haversine_m(at, dispatch.at)) else {
            return Err(DomainError::conflict(
                "no_position",
                "the server has no recent position of yours; send your position first",
            ));
        };
        if distance_m > ARRIVAL_RADIUS_M {
            return Err(DomainError::conflict(
                "not_at_scene",
                format!(
                    "your last position is {distance_m:.0} m from the scene; arrival counts within {ARRIVAL_RADIUS_M:.0} m"
                ),
            ));
        }
        self.state = RecipientState::Arrived;
        self.arrived_at = Some(now);
        Ok(true)
    }
}

fn expired() -> DomainError {
    DomainError::conflict(
        "alert_expired",
        "this alert was not answered in time and has passed to someone else",
    )
}

/// How many recipients of a dispatch are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// alerted, no answer yet
    pub notified: u32,
    /// accepted, not arrived yet
    pub accepted: u32,
    /// declined or withdrew
    pub declined: u32,
    /// did not answer in time
    pub expired: u32,
    /// on the scene
    pub arrived: u32,
}

impl Tally {
    /// Counts the states of `recipients`.
    pub fn of<'a>(recipients: impl IntoIterator<Item = &'a Recipient>) -> Tally {
        let mut t = Tally::default();
        for r in recipients {
            *match r.state {
                RecipientState::Notified => &mut t.notified,
                RecipientState::Accepted => &mut t.accepted,
                RecipientState::Declined => &mut t.declined,
                RecipientState::Expired => &mut t.expired,
                RecipientState::Arrived => &mut t.arrived,
            } += 1;
        }
        t
    }
    /// Accepted, arrived or not.
    pub fn accepted(&self) -> u32 {
        self.accepted + self.arrived
    }
    /// Taken by the dispatch (see [`RecipientState::is_engaged`]).
    pub fn engaged(&self) -> u32 {
        self.notified + self.accepted + self.arrived
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 10, 1, 20, 0, 0).unwrap()
    }

    fn tower() -> LatLng {
        LatLng::new(23.1066, 113.3245).unwrap()
    }

    /// `m` metres north of the tower.
    fn north(m: f64) -> Option<LatLng> {
        Some(LatLng::new(23.1066 + m / 111_195.08, 113.3245).unwrap())
    }

    fn dispatch(needed: u32) -> Dispatch {
        Dispatch::open(
            UserId::new(),
            tower(),
            500.0,
            needed,
            "  a child is lost near the east gate  ",
            DispatchPolicy::default(),
            t0(),
        )
        .unwrap()
    }

    #[test]
    fn opening_checks_what_was_asked() {
        let d = dispatch(2);
        assert_eq!(d.message, "a child is lost near the east gate");
        assert_eq!(
            (d.state, d.escalations, d.escalated_at),
            (DispatchState::Open, 0, t0())
        );
        let open = |radius: f64, needed: u32, message: &str| {
            Dispatch::open(
                UserId::new(),
                tower(),
                radius,
                needed,
                message,
                DispatchPolicy::default(),
                t0(),
            )
            .map(|_| ())
            .map_err(|e| e.code())
        };
        assert_eq!(open(0.0, 1, "x"), Err("invalid_radius"));
        assert_eq!(open(f64::NAN, 1, "x"), Err("invalid_radius"));
        assert_eq!(open(5_000.1, 1, "x"), Err("invalid_radius"));
        assert_eq!(open(5_000.0, 1, "x"), Ok(()));
        assert_eq!(open(100.0, 0, "x"), Err("invalid_needed"));
        assert_eq!(open(100.0, MAX_NEEDED + 1, "x"), Err("invalid_needed"));
        assert_eq!(open(100.0, 1, "   "), Err("invalid_message"));
        assert_eq!(open(100.0, 1, &"警".repeat(MAX_MESSAGE_CHARS)), Ok(()));
        assert_eq!(
            open(100.0, 1, &"警".repeat(MAX_MESSAGE_CHARS + 1)),
            Err("invalid_message")
        );
    }

    #[test]
    fn the_quota_grows_with_each_escalation_and_stops_once_enough_accept() {
        let mut d = dispatch(3);
        let mut tally = Tally::default();
        assert_eq!(d.wanted(&tally), 4, "needed 3 + overfill 1");
        tally.notified = 4;
        assert_eq!(d.wanted(&tally), 0);
        // a decline frees a place
        tally.notified = 3;
        tally.declined = 1;
        assert_eq!(d.wanted(&tally), 1);
        assert_eq!(
            d.next_escalation_at(&tally),
            Some(t0() + Duration::seconds(60))
        );
        // not yet due; due after 60 s, radius doubles
        assert_eq!(d.escalation_due(&tally, t0() + Duration::seconds(59)), None);
        let at = t0() + Duration::seconds(60);
        assert_eq!(d.escalation_due(&tally, at), Some(1000.0));
        d.escalate(1000.0, at);
        assert_eq!((d.quota(), d.wanted(&tally)), (8, 5));
        // the next is due 60 s after the last one, and the radius stops at the maximum
        assert_eq!(d.escalation_due(&tally, at + Duration::seconds(59)), None);
        for (i, want) in [2000.0, 4000.0, 5000.0, 5000.0].into_iter().enumerate() {
            let when = at + Duration::seconds(60 * (i as i64 + 1));
            assert_eq!(d.escalation_due(&tally, when), Some(want));
            d.escalate(want, when);
        }
        assert_eq!(d.escalations, MAX_ESCALATIONS);
        assert_eq!(d.escalation_due(&tally, at + Duration::days(1)), None);
        assert_eq!(d.quota(), 24);
        // enough accepted: nobody new, no escalation
        let enough = Tally {
            accepted: 2,
            arrived: 1,
            ..Tally::default()
        };
        assert_eq!(d.wanted(&enough), 0);
        let mut fresh = dispatch(3);
        assert_eq!(
            fresh.escalation_due(&enough, t0() + Duration::hours(1)),
            None
        );
        // closed: nothing at all
        fresh.close(UserId::new(), t0()).unwrap();
        assert_eq!(fresh.wanted(&Tally::default()), 0);
        assert_eq!(
            fresh.escalation_due(&Tally::default(), t0() + Duration::hours(1)),
            None
        );
        assert_eq!(
            fresh.close(UserId::new(), t0()).unwrap_err().code(),
            "dispatch_closed"
        );
        // the quota has a ceiling
        let mut big = dispatch(MAX_NEEDED);
        for _ in 0..MAX_ESCALATIONS {
            big.escalate(5000.0, t0());
        }
        assert_eq!(big.quota(), MAX_QUOTA);
    }

    #[test]
    fn recipients_move_along_their_states() {
        let d = dispatch(1);
        let user = UserId::new();
        let at = t0() + Duration::seconds(10);
        let mut r = d.alert(user, 120.0, at);
        assert_eq!(r.expires_at, at + Duration::seconds(45));
        assert!(!r.is_overdue(at + Duration::seconds(44)));
        assert!(r.is_overdue(at + Duration::seconds(45)));
        // arrival needs an acceptance first
        assert_eq!(
            r.arrive(&d, north(10.0), at).unwrap_err().code(),
            "not_accepted"
        );
        assert_eq!(r.respond(true, &d, at), Ok(true));
        assert_eq!(
            r.respond(true, &d, at),
            Ok(false),
            "a retry changes nothing"
        );
        assert_eq!(r.arrive(&d, None, at).unwrap_err().code(), "no_position");
        assert_eq!(
            r.arrive(&d, north(100.5), at).unwrap_err().code(),
            "not_at_scene"
        );
        assert_eq!(r.arrive(&d, north(99.9), at), Ok(true));
        assert_eq!((r.state, r.arrived_at), (RecipientState::Arrived, Some(at)));
        assert_eq!(r.arrive(&d, north(500.0), at), Ok(false));
        assert_eq!(
            r.respond(false, &d, at).unwrap_err().code(),
            "already_arrived"
        );

        // an accepted envoy may withdraw; a declined one cannot come back
        let mut w = d.alert(UserId::new(), 50.0, at);
        w.respond(true, &d, at).unwrap();
        assert_eq!(w.respond(false, &d, at), Ok(true));
        assert_eq!(w.state, RecipientState::Declined);
        assert_eq!(w.respond(false, &d, at), Ok(false));
        assert_eq!(
            w.respond(true, &d, at).unwrap_err().code(),
            "already_declined"
        );

        // too late: expired even before the server has marked it
        let mut late = d.alert(UserId::new(), 50.0, at);
        assert_eq!(
            late.respond(true, &d, at + Duration::seconds(45))
                .unwrap_err()
                .code(),
            "alert_expired"
        );
        late.expire(at + Duration::seconds(45));
        assert_eq!(late.state, RecipientState::Expired);
        assert_eq!(
            late.respond(false, &d, at).unwrap_err().code(),
            "alert_expired"
        );

        // a closed dispatch takes no answers
        let mut closed = dispatch(1);
        let mut c = closed.alert(UserId::new(), 50.0, at);
        closed.close(UserId::new(), at).unwrap();
        assert_eq!(
            c.respond(true, &closed, at).unwrap_err().code(),
            "dispatch_closed"
        );
        assert_eq!(
            c.respond(false, &closed, at).unwrap_err().code(),
            "dispatch_closed"
        );
    }

    #[test]
    fn tallies_and_state_names() {
        let d = dispatch(1);
        let mut rs: Vec<Recipient> = (0..5).map(|_| d.alert(UserId::new(), 1.0, t0())).collect();
        rs[0].respond(true, &d, t0()).unwrap();
        rs[1].respond(true, &d, t0()).unwrap();
        rs[1].arrive(&d, north(1.0), t0()).unwrap();
        rs[2].respond(false, &d, t0()).unwrap();
        rs[3].expire(t0());
        let t = Tally::of(&rs);
        assert_eq!(
            t,
            Tally {
                notified: 1,
                accepted: 1,
                declined: 1,
                expired: 1,
                arrived: 1
            }
        );
        assert_eq!((t.accepted(), t.engaged()), (2, 3));
        for s in [
            RecipientState::Notified,
            RecipientState::Accepted,
            RecipientState::Declined,
            RecipientState::Expired,
            RecipientState::Arrived,
        ] {
            assert_eq!(RecipientState::parse(s.as_str()), Ok(s));
        }
        assert_eq!(DispatchState::parse("closed"), Ok(DispatchState::Closed));
        assert_eq!(
            DispatchState::parse("x").unwrap_err().code(),
            "invalid_dispatch_state"
        );
        assert!(DispatchPolicy::default().validate().is_ok());
        let bad = DispatchPolicy {
            max_radius_m: 0.0,
            ..DispatchPolicy::default()
        };
        assert!(bad.validate().is_err());
    }
}
