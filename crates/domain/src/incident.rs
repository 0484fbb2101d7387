//! Incident reports (issue 6, first part: the rules): what envoys report (the categories, which
//! Open311 calls "services"), which department each category goes to by default, and the
//! status machine departments work a report along, with who may move it.
//!
//! Not built yet: storage, the HTTP API, the Open311 interface (see the issue).

use crate::{DomainError, DomainResult, Role};

/// The longest description of a report, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// The longest note on a status change, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000;

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

    /// Parses a name; 400 `invalid_status` otherwise.
    pub fn parse(s: &str) -> DomainResult<IncidentStatus> {
        [
            IncidentStatus::Open,
            IncidentStatus::Acknowledged,
            IncidentStatus::InProgress,
            IncidentStatus::Resolved,
            IncidentStatus::Rejected,
        ]
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
}
