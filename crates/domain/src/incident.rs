//! Incident reports: what envoys report (the categories, which Open311 calls "services"), which
//! department each category goes to by default, the report itself with its timeline, the status
//! machine departments work a report along, who may see and move it, and re-routing.

use crate::time::Timestamp;
use crate::{DomainError, DomainResult, IncidentId, Role, TeamId, UserId};
use pp_geo::LatLng;

/// The longest description of a report, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// The longest note on a status change, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000;
/// Most photos one report carries.
pub const MAX_PHOTOS: usize = 3;
/// The longest link to a photo kept elsewhere (Open311's `media_url`), in bytes.
pub const MAX_MEDIA_URL: usize = 2_000;

/// What a report is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Someone behaving suspiciously.
    SuspiciousPerson,
    /// A fight, a theft, a threat to public order.
    PublicSecurity,
    /// A child separated from their family.
    LostChild,
    /// An elderly person who needs help.
    ElderlyAssist,
    /// A dirty place: litter, overflowing bins.
    Sanitation,
    /// Randomly parked shared bikes.
    BikeParking,
    /// Uncivil walking or riding: red lights, blocked pavements.
    TrafficCivility,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in the order services are listed.
    pub const ALL: [Category; 8] = [
        Category::SuspiciousPerson,
        Category::PublicSecurity,
        Category::LostChild,
        Category::ElderlyAssist,
        Category::Sanitation,
        Category::BikeParking,
        Category::TrafficCivility,
        Category::Other,
    ];

    /// Stored and wire name (the Open311 `service_code`).
    pub fn code(self) -> &'static str {
        match self {
            Category::SuspiciousPerson => "suspicious_person",
            Category::PublicSecurity => "public_security",
            Category::LostChild => "lost_child",
            Category::ElderlyAssist => "elderly_assist",
            Category::Sanitation => "sanitation",
            Category::BikeParking => "bike_parking",
            Category::TrafficCivility => "traffic_civility",
            Category::Other => "other",
        }
    }

    /// Parses a code; 400 `invalid_category` naming the known ones otherwise.
    pub fn parse(s: &str) -> DomainResult<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.code() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Category::ALL.iter().map(|c| c.code()).collect();
                DomainError::invalid(
                    "invalid_category",
                    format!("unknown category {s:?}; one of {}", known.join(", ")),
                )
            })
    }

    /// Its name in Chinese and in English.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Category::SuspiciousPerson => ("可疑人员", "Suspicious person"),
            Category::PublicSecurity => ("治安问题", "Public security"),
            Category::LostChild => ("走失儿童", "Lost child"),
            Category::ElderlyAssist => ("老人求助", "Elderly person needs help"),
            Category::Sanitation => ("环境卫生", "Sanitation"),
            Category::BikeParking => ("共享单车乱停放", "Randomly parked shared bikes"),
            Category::TrafficCivility => ("文明出行", "Traffic civility"),
            Category::Other => ("其他", "Other"),
        }
    }

    /// The department (by code) it goes to until an admin changes the routing: public
    /// security for people, sanitation for dirt, urban management for the street.
    pub fn default_department(self) -> &'static str {
        match self {
            Category::SuspiciousPerson
            | Category::PublicSecurity
            | Category::LostChild
            | Category::ElderlyAssist => "public_security",
            Category::Sanitation => "sanitation",
            Category::BikeParking | Category::TrafficCivility | Category::Other => {
                "urban_management"
            }
        }
    }
}

/// Where a report stands: `open → acknowledged → in_progress → resolved | rejected`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Reported and routed; nobody has looked yet.
    Open,
    /// The department has seen it.
    Acknowledged,
    /// Someone works on it.
    InProgress,
    /// Dealt with.
    Resolved,
    /// Not a matter for action (false report, duplicate, not the department's).
    Rejected,
}

impl IncidentStatus {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::InProgress => "in_progress",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Rejected => "rejected",
        }
    }

    /// Every status, in the machine's order.
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Open,
        IncidentStatus::Acknowledged,
        IncidentStatus::InProgress,
        IncidentStatus::Resolved,
        IncidentStatus::Rejected,
    ];

    /// Parses a name; 400 `invalid_status` otherwise.
    pub fn parse(s: &str) -> DomainResult<IncidentStatus> {
        IncidentStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
        .ok_or_else(|| {
            DomainError::invalid(
                "invalid_status",
                format!(
                    "unknown status {s:?}; one of open, acknowledged, in_progress, resolved, rejected"
                ),
            )
        })
    }

    /// Resolved or rejected: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, IncidentStatus::Resolved | IncidentStatus::Rejected)
    }

    /// Open311's two statuses: `open` until it is final, then `closed`.
    pub fn open311(self) -> &'static str {
        if self.is_final() {
            "closed"
        } else {
            "open"
        }
    }

    /// The statuses Open311 calls `word` (`open` or `closed`, as [`IncidentStatus::open311`]
    /// names them); 400 `invalid_status` for any other word.
    pub fn of_open311(word: &str) -> DomainResult<Vec<IncidentStatus>> {
        let these: Vec<IncidentStatus> = IncidentStatus::ALL
            .into_iter()
            .filter(|st| st.open311() == word)
            .collect();
        if these.is_empty() {
            return Err(DomainError::invalid(
                "invalid_status",
                format!("status must be open or closed, got {word:?}"),
            ));
        }
        Ok(these)
    }

    /// Whether a report may move from this status to `to`: one step along the machine only
    /// (409 `invalid_transition` otherwise, naming the moves allowed).
    pub fn check_move(self, to: IncidentStatus) -> DomainResult<()> {
        use IncidentStatus::*;
        let next: &[IncidentStatus] = match self {
            Open => &[Acknowledged],
            Acknowledged => &[InProgress],
            InProgress => &[Resolved, Rejected],
            Resolved | Rejected => &[],
        };
        if next.contains(&to) {
            return Ok(());
        }
        let allowed: Vec<&str> = next.iter().map(|s| s.as_str()).collect();
        Err(DomainError::conflict(
            "invalid_transition",
            if allowed.is_empty() {
                format!(
                    "the report is {} already; it cannot become {}",
                    self.as_str(),
                    to.as_str()
                )
            } else {
                format!(
                    "a report that is {} can become {}, not {}",
                    self.as_str(),
                    allowed.join(" or "),
                    to.as_str()
                )
            },
        ))
    }
}

/// Whether an account with `role` (and, for staff, `department`) may move a report routed to
/// `routed_to`: its department's staff and commanders (403 `wrong_role` for anyone else,
/// `not_your_department` for staff of another department).
pub fn check_may_work(role: Role, department: Option<&str>, routed_to: &str) -> DomainResult<()> {
    match role {
        Role::Commander => Ok(()),
        Role::Staff if department == Some(routed_to) => Ok(()),
        Role::Staff => Err(DomainError::forbidden(
            "not_your_department",
            format!("this report is routed to {routed_to}, not to your department"),
        )),
        Role::Envoy | Role::Admin => Err(DomainError::forbidden(
            "wrong_role",
            "only the department the report is routed to, or a commander, works on it",
        )),
    }
}

/// A report's description, trimmed: 1 to [`MAX_DESCRIPTION_CHARS`] characters
/// (400 `invalid_description`).
pub fn description(s: &str) -> DomainResult<String> {
    crate::task::text(
        "description",
        "invalid_description",
        s,
        1,
        MAX_DESCRIPTION_CHARS,
    )
}

/// A status change's note, trimmed: at most [`MAX_NOTE_CHARS`] characters, may be empty
/// (400 `invalid_note`).
pub fn note(s: &str) -> DomainResult<String> {
    crate::task::text("note", "invalid_note", s, 0, MAX_NOTE_CHARS)
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// id (Open311's `service_request_id`)
    pub id: IncidentId,
    /// who reported it
    pub reporter: UserId,
    /// what it is about
    pub category: Category,
    /// what the reporter saw
    pub description: String,
    /// where (WGS-84)
    pub at: LatLng,
    /// the reporter's team, when reported on patrol
    pub team_id: Option<TeamId>,
    /// the department (by code) it is routed to
    pub department: String,
    /// where it stands
    pub status: IncidentStatus,
    /// stored photo files (`<sha256>.<ext>`), in the order sent
    pub photos: Vec<String>,
    /// a link to a photo kept elsewhere (Open311 clients send one instead of a file)
    pub media_url: Option<String>,
    /// when reported
    pub created_at: Timestamp,
    /// when it last changed
    pub updated_at: Timestamp,
    /// when its current department acknowledged it
    pub acknowledged_at: Option<Timestamp>,
    /// when it was resolved or rejected
    pub closed_at: Option<Timestamp>,
}

/// What a timeline entry records.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The report was filed and routed.
    Reported,
    /// Its status moved.
    Status,
    /// A commander sent it to another department.
    Rerouted,
}

impl TimelineKind {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Reported => "reported",
            TimelineKind::Status => "status",
            TimelineKind::Rerouted => "rerouted",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> DomainResult<TimelineKind> {
        [
            TimelineKind::Reported,
            TimelineKind::Status,
            TimelineKind::Rerouted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| DomainError::invalid("invalid_timeline_kind", format!("unknown kind {s:?}")))
    }
}

/// One step of a report's history: who did what, when, and where it stood after.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// when
    pub at: Timestamp,
    /// who
    pub actor: UserId,
    /// what happened
    pub kind: TimelineKind,
    /// the status after it
    pub status: IncidentStatus,
    /// the department after it
    pub department: String,
    /// what the actor wrote (may be empty)
    pub note: String,
}

/// Who acts on a report: the signed-in account.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// their id
    pub id: UserId,
    /// their role
    pub role: Role,
    /// their department (staff)
    pub department: Option<&'a str>,
}

/// Which reports an account sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sees<'a> {
    /// Every report (the command centre: commanders, admins).
    All,
    /// Those routed to this department (its staff).
    Department(&'a str),
    /// Those this envoy reported.
    Reported(UserId),
}

impl<'a> Actor<'a> {
    /// Which reports this account sees. Staff without a department see none (no department
    /// has an empty code).
    pub fn sees(&self) -> Sees<'a> {
        match self.role {
            Role::Commander | Role::Admin => Sees::All,
            Role::Staff => Sees::Department(self.department.unwrap_or("")),
            Role::Envoy => Sees::Reported(self.id),
        }
    }
}

/// What a reporter sends.
#[derive(Debug, Clone)]
pub struct NewIncident<'a> {
    /// the category
    pub category: Category,
    /// what they saw
    pub description: &'a str,
    /// where
    pub at: LatLng,
    /// their team, when on patrol
    pub team_id: Option<TeamId>,
    /// the stored photo files (`<sha256>.<ext>`)
    pub photos: Vec<String>,
    /// a link to a photo kept elsewhere
    pub media_url: Option<&'a str>,
}

impl Incident {
    /// A new open report routed to `department`, and its first timeline entry.
    pub fn report(
        reporter: UserId,
        new: NewIncident<'_>,
        department: &str,
        now: Timestamp,
    ) -> DomainResult<(Incident, TimelineEntry)> {
        let description = description(new.description)?;
        if new.photos.len() > MAX_PHOTOS {
            return Err(DomainError::invalid(
                "too_many_photos",
                format!(
                    "a report carries at most {MAX_PHOTOS} photos, got {}",
                    new.photos.len()
                ),
            ));
        }
        let media_url = new.media_url.map(media_url).transpose()?;
        let incident = Incident {
            id: IncidentId::new(),
            reporter,
            category: new.category,
            description,
            at: new.at,
            team_id: new.team_id,
            department: department.to_owned(),
            status: IncidentStatus::Open,
            photos: new.photos,
            media_url,
            created_at: now,
            updated_at: now,
            acknowledged_at: None,
            closed_at: None,
        };
        let entry = incident.entry(reporter, TimelineKind::Reported, String::new(), now);
        Ok((incident, entry))
    }

    fn entry(
        &self,
        actor: UserId,
        kind: TimelineKind,
        note: String,
        now: Timestamp,
    ) -> TimelineEntry {
        TimelineEntry {
            at: now,
            actor,
            kind,
            status: self.status,
            department: self.department.clone(),
            note,
        }
    }

    /// Whether `actor` may see the report: the command centre (commanders, admins) every
    /// report, staff those routed to their department, an envoy those they reported.
    pub fn may_see(&self, actor: &Actor<'_>) -> bool {
        match actor.sees() {
            Sees::All => true,
            Sees::Department(code) => code == self.department,
            Sees::Reported(user) => user == self.reporter,
        }
    }

    /// Moves the report one step (`check_may_work`, then `IncidentStatus::check_move`) with an
    /// optional note; returns the timeline entry.
    pub fn change_status(
        &mut self,
        actor: &Actor<'_>,
        to: IncidentStatus,
        note: &str,
        now: Timestamp,
    ) -> DomainResult<TimelineEntry> {
        check_may_work(actor.role, actor.department, &self.department)?;
        let note = self::note(note)?;
        self.status.check_move(to)?;
        self.status = to;
        self.updated_at = now;
        match to {
            IncidentStatus::Acknowledged => self.acknowledged_at = Some(now),
            IncidentStatus::Resolved | IncidentStatus::Rejected => self.closed_at = Some(now),
            IncidentStatus::Open | IncidentStatus::InProgress => {}
        }
        Ok(self.entry(actor.id, TimelineKind::Status, note, now))
    }

    /// A commander sends the report to `department` (a known department's code: the store
    /// checks). It opens again there, for the new department to acknowledge. A final report
    /// cannot move (409 `incident_closed`); sending it where it is changes nothing (`None`).
    pub fn reroute(
        &mut self,
        actor: &Actor<'_>,
        department: &str,
        note: &str,
        now: Timestamp,
    ) -> DomainResult<Option<TimelineEntry>> {
        if actor.role != Role::Commander {
            return Err(DomainError::forbidden(
                "wrong_role",
                "only a commander sends a report to another department",
            ));
        }
        let note = self::note(note)?;
        if self.status.is_final() {
            return Err(DomainError::conflict(
                "incident_closed",
                format!(
                    "the report is {} already; it cannot go to another department",
                    self.status.as_str()
                ),
            ));
        }
        if self.department == department {
            return Ok(None);
        }
        self.department = department.to_owned();
        self.status = IncidentStatus::Open;
        self.acknowledged_at = None;
        self.updated_at = now;
        Ok(Some(self.entry(
            actor.id,
            TimelineKind::Rerouted,
            note,
            now,
        )))
    }
}

/// A report names a team only when its reporter is (or was) in it (403 `not_member`).
pub fn check_team(reporter_was_member: bool) -> DomainResult<()> {
    if reporter_was_member {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "not_member",
            "a report names only a team you patrol with",
        ))
    }
}

/// A new department's code: 2 to 40 lowercase ASCII letters, digits and `_`, starting with a
/// letter (400 `invalid_department_code`).
pub fn department_code(s: &str) -> DomainResult<String> {
    let s = s.trim();
    let ok = (2..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(DomainError::invalid(
            "invalid_department_code",
            format!(
                "a department code is 2 to 40 of a-z, 0-9 and _, starting with a letter; got {s:?}"
            ),
        ));
    }
    Ok(s.to_owned())
}

/// A department's name (Chinese or English, `field` says which): 1 to 100 characters
/// (400 `invalid_department_name`).
pub fn department_name(field: &'static str, s: &str) -> DomainResult<String> {
    crate::task::text(field, "invalid_department_name", s, 1, 100)
}

/// A link to a photo kept elsewhere: an `http` or `https` URL of at most [`MAX_MEDIA_URL`]
/// bytes without spaces (400 `invalid_media_url`).
pub fn media_url(s: &str) -> DomainResult<String> {
    let s = s.trim();
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|p| s.len() > p.len() && s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)));
    if !scheme_ok
        || s.len() > MAX_MEDIA_URL
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(DomainError::invalid(
            "invalid_media_url",
            format!("media_url must be an http or https link of at most {MAX_MEDIA_URL} bytes"),
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    #[test]
    fn categories_have_codes_names_and_default_departments() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.code()), Ok(c));
            let (zh, en) = c.names();
            assert!(!zh.is_empty() && !en.is_empty());
            assert!(["public_security", "sanitation", "urban_management"]
                .contains(&c.default_department()));
        }
        assert_eq!(Category::LostChild.default_department(), "public_security");
        assert_eq!(Category::Sanitation.default_department(), "sanitation");
        assert_eq!(
            Category::BikeParking.default_department(),
            "urban_management"
        );
        let e = Category::parse("graffiti").unwrap_err();
        assert_eq!(e.code(), "invalid_category");
        assert!(e.to_string().contains("bike_parking"), "{e}");
        // the wire name is the code
        assert_eq!(
            serde_json::to_value(Category::ElderlyAssist).unwrap(),
            "elderly_assist"
        );
    }

    #[test]
    fn the_status_machine_moves_one_step_at_a_time() {
        let all = [Open, Acknowledged, InProgress, Resolved, Rejected];
        let allowed = [
            (Open, Acknowledged),
            (Acknowledged, InProgress),
            (InProgress, Resolved),
            (InProgress, Rejected),
        ];
        for from in all {
            for to in all {
                let ok = from.check_move(to).is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from:?} → {to:?}");
                if !ok {
                    assert_eq!(
                        from.check_move(to).unwrap_err().code(),
                        "invalid_transition"
                    );
                }
            }
            assert_eq!(IncidentStatus::parse(from.as_str()), Ok(from));
        }
        assert_eq!(
            Open.check_move(Resolved).unwrap_err().to_string(),
            "a report that is open can become acknowledged, not resolved"
        );
        assert!(Resolved
            .check_move(Open)
            .unwrap_err()
            .to_string()
            .contains("already"));
        assert_eq!(
            IncidentStatus::parse("done").unwrap_err().code(),
            "invalid_status"
        );
        assert_eq!(
            [Open, Acknowledged, InProgress, Resolved, Rejected].map(IncidentStatus::open311),
            ["open", "open", "open", "closed", "closed"]
        );
        assert_eq!(
            IncidentStatus::of_open311("open").unwrap(),
            [Open, Acknowledged, InProgress]
        );
        assert_eq!(
            IncidentStatus::of_open311("closed").unwrap(),
            [Resolved, Rejected]
        );
        assert_eq!(
            IncidentStatus::of_open311("pending").unwrap_err().code(),
            "invalid_status"
        );
    }

    #[test]
    fn only_the_routed_department_and_commanders_work_a_report() {
        assert!(check_may_work(Role::Commander, None, "sanitation").is_ok());
        assert!(check_may_work(Role::Staff, Some("sanitation"), "sanitation").is_ok());
        let code = |r: DomainResult<()>| r.unwrap_err().code();
        assert_eq!(
            code(check_may_work(
                Role::Staff,
                Some("urban_management"),
                "sanitation"
            )),
            "not_your_department"
        );
        assert_eq!(
            code(check_may_work(Role::Staff, None, "sanitation")),
            "not_your_department"
        );
        assert_eq!(
            code(check_may_work(Role::Envoy, None, "sanitation")),
            "wrong_role"
        );
        assert_eq!(
            code(check_may_work(Role::Admin, None, "sanitation")),
            "wrong_role"
        );
    }

    #[test]
    fn descriptions_and_notes_are_bounded() {
        assert_eq!(
            description("  bins overflowing  ").unwrap(),
            "bins overflowing"
        );
        assert_eq!(description(" ").unwrap_err().code(), "invalid_description");
        assert!(description(&"脏".repeat(MAX_DESCRIPTION_CHARS)).is_ok());
        assert_eq!(
            description(&"脏".repeat(MAX_DESCRIPTION_CHARS + 1))
                .unwrap_err()
                .code(),
            "invalid_description"
        );
        assert_eq!(note("").unwrap(), "");
        assert_eq!(
            note(&"x".repeat(MAX_NOTE_CHARS + 1)).unwrap_err().code(),
            "invalid_note"
        );
    }

    fn t(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn filed(photos: usize) -> DomainResult<(Incident, TimelineEntry)> {
        Incident::report(
            UserId::new(),
            NewIncident {
                category: Category::Sanitation,
                description: "  bins overflowing by the gate ",
                at: LatLng::new(23.1, 113.3).unwrap(),
                team_id: None,
                photos: (0..photos).map(|i| format!("{i:064}.jpg")).collect(),
                media_url: None,
            },
            "sanitation",
            t(0),
        )
    }

    #[test]
    fn a_report_opens_routed_with_its_first_entry() {
        let (i, e) = filed(3).unwrap();
        assert_eq!(i.status, Open);
        assert_eq!(i.department, "sanitation");
        assert_eq!(i.description, "bins overflowing by the gate");
        assert_eq!(
            (e.kind, e.status, e.actor),
            (TimelineKind::Reported, Open, i.reporter)
        );
        assert_eq!(filed(4).unwrap_err().code(), "too_many_photos");
    }

    #[test]
    fn who_sees_a_report() {
        let (i, _) = filed(0).unwrap();
        let actor = |id, role, department| Actor {
            id,
            role,
            department,
        };
        let other = UserId::new();
        assert!(i.may_see(&actor(i.reporter, Role::Envoy, None)));
        assert!(!i.may_see(&actor(other, Role::Envoy, None)));
        assert!(i.may_see(&actor(other, Role::Commander, None)));
        assert!(i.may_see(&actor(other, Role::Admin, None)));
        assert!(i.may_see(&actor(other, Role::Staff, Some("sanitation"))));
        assert!(!i.may_see(&actor(other, Role::Staff, Some("public_security"))));
        assert!(!i.may_see(&actor(other, Role::Staff, None)));
        assert_eq!(actor(other, Role::Staff, None).sees(), Sees::Department(""));
        assert_eq!(
            actor(other, Role::Envoy, None).sees(),
            Sees::Reported(other)
        );
    }

    #[test]
    fn staff_work_a_report_to_the_end_and_times_are_kept() {
        let (mut i, _) = filed(0).unwrap();
        let staff = Actor {
            id: UserId::new(),
            role: Role::Staff,
            department: Some("sanitation"),
        };
        let e = i
            .change_status(&staff, Acknowledged, "on our list", t(60))
            .unwrap();
        assert_eq!(
            (e.kind, e.status, e.note.as_str()),
            (TimelineKind::Status, Acknowledged, "on our list")
        );
        assert_eq!(i.acknowledged_at, Some(t(60)));
        assert_eq!(
            i.change_status(&staff, Resolved, "", t(61))
                .unwrap_err()
                .code(),
            "invalid_transition"
        );
        assert_eq!(i.status, Acknowledged, "a refused move changes nothing");
        i.change_status(&staff, InProgress, "", t(120)).unwrap();
        i.change_status(&staff, Resolved, "swept", t(600)).unwrap();
        assert_eq!((i.closed_at, i.updated_at), (Some(t(600)), t(600)));
        let other = Actor {
            department: Some("urban_management"),
            ..staff
        };
        let (mut j, _) = filed(0).unwrap();
        assert_eq!(
            j.change_status(&other, Acknowledged, "", t(1))
                .unwrap_err()
                .code(),
            "not_your_department"
        );
        assert_eq!(
            j.change_status(&staff, Acknowledged, &"x".repeat(MAX_NOTE_CHARS + 1), t(1))
                .unwrap_err()
                .code(),
            "invalid_note"
        );
        assert_eq!(j.status, Open);
    }

    #[test]
    fn a_commander_reroutes_and_the_report_opens_again_there() {
        let (mut i, _) = filed(0).unwrap();
        let commander = Actor {
            id: UserId::new(),
            role: Role::Commander,
            department: None,
        };
        let staff = Actor {
            id: UserId::new(),
            role: Role::Staff,
            department: Some("sanitation"),
        };
        i.change_status(&staff, Acknowledged, "", t(10)).unwrap();
        assert_eq!(
            i.reroute(&staff, "urban_management", "", t(20))
                .unwrap_err()
                .code(),
            "wrong_role"
        );
        assert_eq!(i.reroute(&commander, "sanitation", "", t(20)), Ok(None));
        let e = i
            .reroute(&commander, "urban_management", "their street", t(30))
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.kind, e.status, e.department.as_str()),
            (TimelineKind::Rerouted, Open, "urban_management")
        );
        assert_eq!((i.status, i.acknowledged_at), (Open, None));
        // the old department no longer works it
        assert_eq!(
            i.change_status(&staff, Acknowledged, "", t(40))
                .unwrap_err()
                .code(),
            "not_your_department"
        );
        i.change_status(&commander, Acknowledged, "", t(50))
            .unwrap();
        i.change_status(&commander, InProgress, "", t(51)).unwrap();
        i.change_status(&commander, Rejected, "duplicate", t(52))
            .unwrap();
        assert_eq!(
            i.reroute(&commander, "sanitation", "", t(60))
                .unwrap_err()
                .code(),
            "incident_closed"
        );
    }

    #[test]
    fn department_codes_and_names() {
        assert_eq!(department_code(" parks_2 ").unwrap(), "parks_2");
        for bad in ["", "p", "Parks", "2parks", "parks-x", &"p".repeat(41)] {
            assert_eq!(
                department_code(bad).unwrap_err().code(),
                "invalid_department_code",
                "{bad}"
            );
        }
        assert_eq!(department_name("name_zh", " 园林 ").unwrap(), "园林");
        assert_eq!(
            department_name("name_en", "").unwrap_err().code(),
            "invalid_department_name"
        );
    }

    #[test]
    fn media_links_are_http_links() {
        assert_eq!(
            media_url(" https://example.org/a.jpg ").unwrap(),
            "https://example.org/a.jpg"
        );
        assert!(media_url("HTTP://x.org/p.png").is_ok());
        for bad in [
            "",
            "ftp://x.org/a",
            "javascript:alert(1)",
            "https://",
            "http://a b",
            &format!("https://x.org/{}", "a".repeat(MAX_MEDIA_URL)),
        ] {
            assert_eq!(
                media_url(bad).unwrap_err().code(),
                "invalid_media_url",
                "{bad}"
            );
        }
    }
}
