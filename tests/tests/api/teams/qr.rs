//! The leader's QR code: it decodes to a join URL whose token lets a new envoy join.

use super::members;
use e2e::{expect, expect_error, on_each_backend, read, str_of, TestApp};
use serde_json::json;

async fn fetch(app: &TestApp, token: &str, path: &str) -> (u16, String, Option<String>, Vec<u8>) {
    let res = app
        .request(reqwest::Method::GET, path, token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let cache = header("cache-control");
    let status = res.status().as_u16();
    (
        status,
        content_type,
        cache,
        res.bytes().await.unwrap().to_vec(),
    )
}

fn decode_qr(png: &[u8]) -> String {
    let img = image::load_from_memory(png)
        .expect("qr.png is an image")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("the QR code decodes").1
}

#[tokio::test]
async fn qr_png_decodes_to_a_working_join_url() {
    on_each_backend(async |app: &TestApp| {
        let (commander, _, leader, _, team) = app.task_with_team(&json!({}), 1).await;
        let team_id = str_of(&team, "id");
        let view = expect(app.team(&leader, team_id).await, 200);
        let join_url = str_of(&view, "join_url");

        let (status, content_type, cache, png) =
            fetch(app, &leader, &format!("/teams/{team_id}/qr.png")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&png));
        assert_eq!(content_type, "image/png");
        assert_eq!(cache.as_deref(), Some("no-store"));
        let url = decode_qr(&png);
        let prefix = format!("{}/join?token=", app.public_url());
        assert!(
            url.starts_with(&prefix),
            "QR holds {url}, expected it to start with {prefix}"
        );
        assert_eq!(
            url.len(),
            join_url.len(),
            "QR URL {url} has the form of {join_url}"
        );
        let token = &url[prefix.len()..];
        assert!(
            !token.is_empty() && !token.contains(['&', '#', ' ']),
            "{token}"
        );

        // a new envoy scans it and joins that team
        let (envoy, envoy_id) = app.quick_envoy(2).await;
        let joined = expect(app.join(&envoy, token, None).await, 200);
        assert_eq!(joined["id"].as_str(), Some(team_id));
        assert!(members(&joined).contains(&(envoy_id, "member".to_owned())));

        // the SVG variant is an SVG picture
        let (status, content_type, cache, svg) =
            fetch(app, &leader, &format!("/teams/{team_id}/qr.svg")).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("image/svg+xml"), "{content_type}");
        assert_eq!(cache.as_deref(), Some("no-store"));
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg"), "{svg}");

        // only the leader may show it
        let (stranger, _) = app.quick_envoy(3).await;
        for path in ["qr.png", "qr.svg"] {
            let path = format!("/teams/{team_id}/{path}");
            let refused = app
                .send(app.request(reqwest::Method::GET, &path, &envoy))
                .await;
            expect_error(&refused, 403, "not_leader");
            let refused = app
                .send(app.request(reqwest::Method::GET, &path, &stranger))
                .await;
            assert_eq!(refused.0, 403, "a stranger: {refused:?}");
            let refused = app
                .send(app.request(reqwest::Method::GET, &path, &commander))
                .await;
            assert_eq!(refused.0, 403, "a commander is not the leader: {refused:?}");
            expect_error(
                &read(app.client.get(app.api(&path)).send().await.unwrap()).await,
                401,
                "unauthorized",
            );
        }
    })
    .await;
}
