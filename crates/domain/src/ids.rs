//! Typed record ids (UUIDv7, time-ordered), so a `TaskId` can never be passed as a `TeamId`.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            #[must_use]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id!(
    /// An account: envoy, commander, staff or admin.
    UserId
);
id!(
    /// A patrol task published by the command centre.
    TaskId
);
id!(
    /// A team formed for a task.
    TeamId
);
id!(
    /// A department incidents are routed to.
    DepartmentId
);
id!(
    /// An entry of the rewards ledger.
    LedgerId
);
id!(
    /// An emergency dispatch.
    DispatchId
);
id!(
    /// An incident report (an Open311 service request).
    IncidentId
);
