//! The multipart forms of the API: a team's start (its photo) and an incident report, and the
//! PNG photo the tools take.

use pp_domain::TeamId;
use pp_geo::LatLng;
use reqwest::multipart::{Form, Part};

/// What `POST /incidents` files.
#[derive(Debug, Clone)]
pub struct NewReport<'a> {
    /// its category (`lost_child`)
    pub category: &'a str,
    /// what the reporter says
    pub description: &'a str,
    /// where
    pub at: LatLng,
    /// the reporter's team, when it patrols
    pub team: Option<TeamId>,
    /// a photo (PNG)
    pub photo: Option<&'a [u8]>,
}

/// The form of `POST /teams/{id}/start`: the team photo (PNG) taken at `at`.
pub fn start_form(png: &[u8], at: LatLng) -> reqwest::Result<Form> {
    Ok(Form::new()
        .part(
            "photo",
            Part::bytes(png.to_vec())
                .file_name("team.png")
                .mime_str("image/png")?,
        )
        .text("lat", at.lat.to_string())
        .text("lng", at.lng.to_string()))
}

/// The form of `POST /incidents`: a report of its category at its place, naming the
/// reporter's team if given, with a photo (PNG) if given.
pub fn report_form(report: &NewReport<'_>) -> reqwest::Result<Form> {
    let mut form = Form::new()
        .text("category", report.category.to_owned())
        .text("description", report.description.to_owned())
        .text("lat", report.at.lat.to_string())
        .text("lng", report.at.lng.to_string());
    if let Some(team) = report.team {
        form = form.text("team_id", team.to_string());
    }
    if let Some(png) = report.photo {
        form = form.part(
            "photo",
            Part::bytes(png.to_vec())
                .file_name("report.png")
                .mime_str("image/png")?,
        );
    }
    Ok(form)
}

/// A PNG team photo: a 64×48 gradient.
pub fn team_photo() -> anyhow::Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            u8::try_from(x * 4).unwrap_or(u8::MAX),
            u8::try_from(y * 5).unwrap_or(u8::MAX),
            160,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_team_photo_is_a_png() {
        let png = team_photo().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }
}
