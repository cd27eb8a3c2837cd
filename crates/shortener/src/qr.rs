//! QR codes of short URLs, as SVG or PNG.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module in a PNG.
pub const PNG_MODULE_PX: usize = 8;
/// Modules of white border on every side (the QR standard's quiet zone).
pub const QUIET_ZONE_MODULES: usize = 4;
/// Longest text encoded (a short URL; a QR code at level M holds at most ~2300 bytes).
pub const MAX_QR_TEXT_LEN: usize = 1024;

/// Why no QR code was made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text does not fit.
    #[error("cannot encode {len} bytes as a QR code: {reason}")]
    Encode {
        /// Bytes given.
        len: usize,
        /// The encoder's reason.
        reason: String,
    },
    /// PNG encoding failed.
    #[error("PNG encoding: {reason}")]
    Png {
        /// The encoder's reason.
        reason: String,
    },
}

fn encode(text: &str) -> Result<QrCode, QrError> {
    let too_long = || QrError::Encode { len: text.len(), reason: "too long".into() };
    if text.len() > MAX_QR_TEXT_LEN {
        return Err(too_long());
    }
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| QrError::Encode { len: text.len(), reason: error.to_string() })
}

/// An SVG image of the QR code of `text`.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = encode(text)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// A grayscale PNG of the QR code of `text`, [`PNG_MODULE_PX`] pixels per module.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side_modules = modules + 2 * QUIET_ZONE_MODULES;
    let side = side_modules * PNG_MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (x, y) = (index % modules + QUIET_ZONE_MODULES, index / modules + QUIET_ZONE_MODULES);
        for row in y * PNG_MODULE_PX..(y + 1) * PNG_MODULE_PX {
            let start = row * side + x * PNG_MODULE_PX;
            pixels[start..start + PNG_MODULE_PX].fill(0);
        }
    }
    let png_error = |error: png::EncodingError| QrError::Png { reason: error.to_string() };
    let mut out = Vec::new();
    let side_u32 = u32::try_from(side).map_err(|_| QrError::Png { reason: "too large".into() })?;
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&pixels).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_short_url_renders_as_svg_and_png() {
        let image = svg("http://127.0.0.1:8080/abc1234").unwrap();
        assert!(image.contains("<svg") && image.contains("</svg>"), "{image}");
        let bytes = png("http://127.0.0.1:8080/abc1234").unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn oversized_text_is_refused() {
        assert!(matches!(svg(&"a".repeat(MAX_QR_TEXT_LEN + 1)), Err(QrError::Encode { .. })));
    }
}
