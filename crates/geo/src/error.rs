//! The single error type of this crate.

/// A validation failure.
///
/// `code` is a stable snake_case identifier meant for API clients (for
/// example `"coordinate_out_of_range"`, `"self_intersecting"`); `message` is a
/// human readable explanation saying what exactly is wrong (which position,
/// which value, which limit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GeoError {
    /// Stable snake_case error code.
    pub code: &'static str,
    /// Human readable description of the problem.
    pub message: String,
}

impl GeoError {
    /// Builds an error from a code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        GeoError {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message() {
        let e = GeoError::new("invalid_bbox", "bbox needs four numbers");
        assert_eq!(e.to_string(), "bbox needs four numbers");
        assert_eq!(e.code, "invalid_bbox");
    }
}
