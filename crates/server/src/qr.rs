//! QR codes of join URLs, as SVG (crisp at any size, for screens) and PNG (for anything that
//! wants a bitmap). Both keep the 4-module quiet zone that readers need; the PNG draws each
//! module as an 8×8 pixel block, well above what an ordinary phone camera resolves.

use crate::error::{ApiError, ApiResult};
use image::{DynamicImage, ImageFormat, Luma};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use std::io::Cursor;

/// Pixels per module side in the PNG.
pub const PNG_MODULE_PX: u32 = 8;

/// Medium error correction: survives a scratched or glare-spotted screen and keeps a
/// ~60-character URL in a small (version 4–5) symbol.
fn code(data: &str) -> ApiResult<QrCode> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "cannot encode {} bytes as a QR code: {e}",
            data.len()
        ))
    })
}

/// The QR code of `data` as an SVG document.
pub fn svg(data: &str) -> ApiResult<String> {
    Ok(code(data)?
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The QR code of `data` as a greyscale PNG.
pub fn png(data: &str) -> ApiResult<Vec<u8>> {
    let img = code(data)?
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(PNG_MODULE_PX, PNG_MODULE_PX)
        .build();
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(img)
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| {
            ApiError::internal(anyhow::Error::new(e).context("encoding a QR code as PNG"))
        })?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str =
        "http://127.0.0.1:8080/join?token=AZLdcmR0fGGnqJ7yAAAAAGb7a2Q.q0Z8zJ0Zp3bK2U7vGmJr-w";

    fn read_png(bytes: &[u8]) -> String {
        let img = image::load_from_memory_with_format(bytes, ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let (w, h) = img.dimensions();
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                img.get_pixel(x as u32, y as u32).0[0]
            });
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn png_decodes_to_the_same_url() {
        let png = png(URL).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(read_png(&png), URL);
        let img = image::load_from_memory(&png).unwrap();
        assert!(img.width() >= 25 * PNG_MODULE_PX, "module size ≥ 8 px");
        // the quiet zone: the border is white
        let luma = img.to_luma8();
        assert!((0..img.width()).all(|x| luma.get_pixel(x, 0).0[0] == 255));
    }

    #[test]
    fn svg_is_an_svg_document() {
        let svg = svg(URL).unwrap();
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains(r##"fill="#000000""##));
    }
}
