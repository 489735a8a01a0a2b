//! The one TrueType font plotters needs for labels (SVG and PNG): the first
//! readable of `$NETBALANCE_FONT` and the usual DejaVu/Liberation paths,
//! registered once as "sans-serif". Shared by every plot (`simulate`,
//! `balance --report`).

use crate::error::{Error, Result};
use plotters::style::FontStyle;
use std::sync::OnceLock;

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

static FONT: OnceLock<std::result::Result<&'static [u8], String>> = OnceLock::new();

/// The registered font's bytes (after [`ensure_font`] succeeded).
pub fn font_bytes() -> Option<&'static [u8]> {
    FONT.get().and_then(|f| f.as_ref().ok().copied())
}

/// Register a font as "sans-serif" once; the error names what to install.
pub fn ensure_font() -> Result<()> {
    FONT.get_or_init(|| {
        let env = std::env::var("NETBALANCE_FONT").ok();
        let candidates: Vec<&str> = env.iter().map(String::as_str).chain(FONT_PATHS.iter().copied()).collect();
        for path in &candidates {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(bytes);
                }
            }
        }
        Err(format!(
            "plots need a TrueType font for their labels (tried {}): install fonts-dejavu-core or set NETBALANCE_FONT=/path/to/font.ttf",
            candidates.join(", ")
        ))
    })
    .clone()
    .map(|_| ())
    .map_err(Error::Usage)
}
