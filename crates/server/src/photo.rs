//! Uploaded photos: checked to be a real JPEG, PNG or WebP of sane size, then stored by the
//! SHA-256 of their bytes (`<data_dir>/photos/<sha[0..2]>/<sha>.<ext>`), so the same photo is
//! stored once and a stored file never changes.

use crate::error::{ApiError, ApiResult};
use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest as _, Sha256};
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};

/// Largest accepted photo file.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted width or height.
pub const MAX_SIDE_PX: u32 = 8000;

/// A photo that passed [`validate`].
#[derive(Debug, Clone)]
pub struct Photo {
    /// lowercase hex SHA-256 of the bytes
    pub sha256: String,
    /// file extension of its format: `jpg`, `png` or `webp`
    pub ext: &'static str,
    /// pixels across
    pub width: u32,
    /// pixels down
    pub height: u32,
    bytes: Vec<u8>,
}

impl Photo {
    /// Its stored file name: `<sha256>.<ext>`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, self.ext)
    }

    /// Where this photo lives under `photo_dir`.
    pub fn path_in(&self, photo_dir: &Path) -> PathBuf {
        stored(photo_dir, &self.file_name()).0
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Where the photo stored as `file_name` (`<sha256>.<ext>`) lives under `photo_dir`, and its
/// media type.
pub fn stored(photo_dir: &Path, file_name: &str) -> (PathBuf, &'static str) {
    let (sha, ext) = file_name.split_once('.').unwrap_or((file_name, ""));
    let content_type = match ext {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    };
    let path = photo_dir.join(sha.get(..2).unwrap_or(sha)).join(file_name);
    (path, content_type)
}

/// Checks that `bytes` are a JPEG, PNG or WebP (sniffed from the bytes, whatever the upload
/// claims), at most [`MAX_PHOTO_BYTES`] long and [`MAX_SIDE_PX`] a side, and that they decode
/// in full. Every refusal is a 422 `invalid_photo`. CPU-heavy: call it off the async threads
/// ([`validate_blocking`]).
pub fn validate(bytes: Vec<u8>) -> ApiResult<Photo> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::invalid_photo(format!(
            "the photo is {} bytes; the most is {MAX_PHOTO_BYTES} bytes (10 MB)",
            bytes.len()
        )));
    }
    let not_an_image = || ApiError::invalid_photo("the photo is not a JPEG, PNG or WebP image");
    let format = image::guess_format(&bytes).map_err(|_| not_an_image())?;
    let ext = match format {
        ImageFormat::Jpeg => "jpg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        _ => return Err(not_an_image()),
    };
    // the header alone says how large the image is, before any pixel is decoded
    let (width, height) = ImageReader::with_format(Cursor::new(&bytes), format)
        .into_dimensions()
        .map_err(|e| ApiError::invalid_photo(format!("the photo cannot be read: {e}")))?;
    if width == 0 || height == 0 || width > MAX_SIDE_PX || height > MAX_SIDE_PX {
        return Err(ApiError::invalid_photo(format!(
            "the photo is {width}×{height} pixels; each side must be 1 to {MAX_SIDE_PX}"
        )));
    }
    // decode it all, so a truncated or corrupt file is refused now rather than shown broken
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    let mut reader = ImageReader::with_format(Cursor::new(&bytes), format);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| ApiError::invalid_photo(format!("the photo is damaged or incomplete: {e}")))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Photo {
        sha256,
        ext,
        width,
        height,
        bytes,
    })
}

/// A multipart form carrying photos (the field `photo`, possibly repeated) and text fields.
#[derive(Debug, Default)]
pub struct PhotoForm {
    /// the non-empty `photo` parts, in the order sent
    pub photos: Vec<Vec<u8>>,
    /// the text fields asked for, by name (the last one sent of each)
    pub fields: std::collections::HashMap<&'static str, String>,
}

impl PhotoForm {
    /// A text field, if it was sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A text field that must be there (400 `invalid_body` naming it otherwise).
    pub fn required(&self, name: &str) -> ApiResult<&str> {
        self.field(name).ok_or_else(|| {
            ApiError::bad_request("invalid_body", format!("the form needs a field {name}"))
        })
    }

    /// A field that must be a number, such as a coordinate in degrees (400 `invalid_body`).
    pub fn number(&self, name: &str) -> ApiResult<f64> {
        let value = self.required(name)?;
        value.trim().parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_body",
                format!("{name} must be a number in degrees, got {value:?}"),
            )
        })
    }
}

/// Reads a form with up to `max_photos` `photo` parts and the text `fields` named; unknown
/// fields are skipped. A photo larger than [`MAX_PHOTO_BYTES`] stops being buffered at once,
/// but the rest of the body is still read (the route's body limit bounds it) so that the
/// client, still sending, gets the 422 rather than a reset connection; more photos than
/// `max_photos` is a 400 `too_many_photos`.
pub async fn read_form(
    mut form: axum::extract::Multipart,
    fields: &[&'static str],
    max_photos: usize,
) -> ApiResult<PhotoForm> {
    let mut out = PhotoForm::default();
    let mut too_large = false;
    let mut sent = 0usize;
    while let Some(mut field) = form.next_field().await? {
        let name = field.name().map(str::to_owned);
        match name.as_deref() {
            Some("photo") => {
                let keep = out.photos.len() < max_photos;
                let (mut buf, mut len) = (Vec::new(), 0usize);
                while let Some(chunk) = field.chunk().await? {
                    len += chunk.len();
                    too_large |= len > MAX_PHOTO_BYTES;
                    if keep && !too_large {
                        buf.extend_from_slice(&chunk);
                    }
                }
                if len > 0 {
                    sent += 1;
                    if keep {
                        out.photos.push(buf);
                    }
                }
            }
            Some(n) => match fields.iter().find(|f| **f == n) {
                Some(&f) => {
                    out.fields.insert(f, field.text().await?);
                }
                None => while field.chunk().await?.is_some() {},
            },
            None => while field.chunk().await?.is_some() {},
        }
    }
    if too_large {
        return Err(ApiError::invalid_photo(format!(
            "a photo is larger than {MAX_PHOTO_BYTES} bytes (10 MB)"
        )));
    }
    if sent > max_photos {
        return Err(ApiError::bad_request(
            "too_many_photos",
            format!("send at most {max_photos} photos, got {sent}"),
        ));
    }
    Ok(out)
}

/// [`validate`] on the blocking thread pool.
pub async fn validate_blocking(bytes: Vec<u8>) -> ApiResult<Photo> {
    tokio::task::spawn_blocking(move || validate(bytes))
        .await
        .map_err(ApiError::internal)?
}

/// Writes the photo under `photo_dir` unless it is there already, through a temporary file
/// renamed into place, so a reader never sees half a file. Returns its path.
pub fn save(photo_dir: &Path, photo: &Photo) -> std::io::Result<PathBuf> {
    let path = photo.path_in(photo_dir);
    if path.is_file() {
        return Ok(path);
    }
    let dir = path.parent().unwrap_or(photo_dir);
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        photo.sha256,
        uuid::Uuid::now_v7().simple()
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&photo.bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| path)
}

/// [`save`] on the blocking thread pool; a failure is a 500.
pub async fn save_blocking(photo_dir: PathBuf, photo: Photo) -> ApiResult<PathBuf> {
    tokio::task::spawn_blocking(move || save(&photo_dir, &photo))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("storing a photo")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::{DynamicImage, RgbImage};

    pub(crate) fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn sample() -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(16, 12, |x, y| {
            image::Rgb([(x * 15) as u8, (y * 20) as u8, 128])
        }))
    }

    #[test]
    fn accepts_jpeg_png_webp() {
        for (format, ext) in [
            (ImageFormat::Jpeg, "jpg"),
            (ImageFormat::Png, "png"),
            (ImageFormat::WebP, "webp"),
        ] {
            let bytes = encode(&sample(), format);
            let p = validate(bytes.clone()).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((p.ext, p.width, p.height), (ext, 16, 12));
            assert_eq!(p.sha256, hex::encode(Sha256::digest(&bytes)));
        }
    }

    #[test]
    fn refuses_what_is_not_a_usable_photo() {
        let code = |bytes: Vec<u8>| validate(bytes).unwrap_err().code();
        assert_eq!(
            code(b"hello, this is a text file\n".to_vec()),
            "invalid_photo"
        );
        assert_eq!(code(Vec::new()), "invalid_photo");
        // a GIF is an image, but not one of ours
        assert_eq!(
            code(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
            "invalid_photo"
        );
        let png = encode(&sample(), ImageFormat::Png);
        assert_eq!(code(png[..png.len() / 2].to_vec()), "invalid_photo");
        let jpeg = encode(&sample(), ImageFormat::Jpeg);
        assert_eq!(code(jpeg[..jpeg.len() / 2].to_vec()), "invalid_photo");
        let wide = encode(
            &DynamicImage::ImageLuma8(image::GrayImage::new(9000, 1)),
            ImageFormat::Png,
        );
        let e = validate(wide).unwrap_err();
        assert_eq!(e.code(), "invalid_photo");
        assert!(e.to_string().contains("9000"), "{e}");
        assert_eq!(code(vec![0u8; MAX_PHOTO_BYTES + 1]), "invalid_photo");
    }

    #[test]
    fn saves_once_by_content_hash() {
        let dir = std::env::temp_dir().join(format!("pp-photo-test-{}", uuid::Uuid::now_v7()));
        let photo = validate(encode(&sample(), ImageFormat::Png)).unwrap();
        let path = save(&dir, &photo).unwrap();
        assert_eq!(
            path,
            dir.join(&photo.sha256[..2])
                .join(format!("{}.png", photo.sha256))
        );
        assert_eq!(std::fs::read(&path).unwrap(), photo.bytes());
        assert_eq!(save(&dir, &photo).unwrap(), path);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
