//! `/api/docs`: Swagger UI, from the pinned copy under `web/vendor/swagger-ui/`, reading
//! `/api/openapi.json`. No external URL: it works offline and on a closed network.

use axum::response::Html;

/// The pinned Swagger UI version, appended to its URLs so that an upgrade is not hidden by
/// the long cache of `/vendor/`.
const SWAGGER_UI_VERSION: &str = include_str!("../../../web/vendor/swagger-ui/VERSION");

/// `GET /api/docs`.
pub async fn page() -> Html<String> {
    let v = SWAGGER_UI_VERSION.trim();
    Html(format!(
        r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Peace Patrol API · 平安巡逻</title>
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css?v={v}">
  <style>body {{ margin: 0; }}</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/vendor/swagger-ui/swagger-ui-bundle.js?v={v}"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "/api/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true
    }});
  </script>
</body>
</html>
"##
    ))
}
