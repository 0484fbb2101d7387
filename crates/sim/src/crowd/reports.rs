//! The crowd's incident reports, filed through the API as its phones would (the first with a
//! photo), so the demo's incident queues have something in them.

use super::walker::Walker;
use crate::api::forms::{team_photo, NewReport};
use crate::api::Api;
use pp_geo::LatLng;
use pp_server::AppState;

/// What the crowd reports when the demo district has no reports yet: a category, words, and
/// where (latitude, longitude).
const REPORTS: [(&str, &str, (f64, f64)); 4] = [
    ("bike_parking", "海珠客运站东门外共享单车乱停放，堵住盲道 Shared bikes heaped across the tactile path by the station's east gate", (23.0962, 113.2656)),
    ("sanitation", "海珠湖北门垃圾桶已满，垃圾散落 Bins overflowing at the lake's north gate", (23.0884, 113.3384)),
    ("lost_child", "广州塔下一名约五岁男孩与家人走散，穿红色外套 A boy of about five, red coat, separated from his family under the tower", (23.1061, 113.3241)),
    ("elderly_assist", "一位老人在江边步道摔倒，需要帮助 An elderly man fell on the riverside path and needs help", (23.1098, 113.3262)),
];

/// Files the reports, only into a district that has no reports yet, so a restarted demo does
/// not file them again. Returns how many it filed.
pub async fn file_reports(state: &AppState, api: &Api, crowd: &[Walker]) -> anyhow::Result<usize> {
    let any = pp_store::IncidentFilter {
        limit: 1,
        ..pp_store::IncidentFilter::default()
    };
    if !state.store.incidents(&any).await?.is_empty() {
        return Ok(0);
    }
    let photo = team_photo()?;
    for (i, ((category, description, (lat, lng)), w)) in REPORTS.iter().zip(crowd).enumerate() {
        let report = NewReport {
            category,
            description,
            at: LatLng::new(*lat, *lng)?,
            team: None,
            photo: (i == 0).then_some(photo.as_slice()),
        };
        api.file_report(&w.token, &report)
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("report {category}")))?;
    }
    Ok(REPORTS.len().min(crowd.len()))
}
