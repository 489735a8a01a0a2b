//! PDF figures: plotters has no PDF backend, so a figure is drawn as SVG
//! (the same code as a `.svg` file) and converted with `svg2pdf`, text kept
//! as text in the plots' one font ([`crate::plot_font`]), embedded and
//! subset. The page is the figure's `--plot-size` at `--plot-dpi` pixels
//! per inch (96: a 960×500 figure is 10 × 5.2 in).

use svg2pdf::usvg;

/// `svg` (a whole document) as a one-page PDF. O(size of the SVG).
///
/// ```
/// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="96" height="48"><rect width="10" height="10"/></svg>"#;
/// let pdf = netbalance::plot_pdf::svg_to_pdf(svg, 96).unwrap();
/// assert!(pdf.starts_with(b"%PDF-"));
/// ```
pub fn svg_to_pdf(svg: &str, dpi: u32) -> Result<Vec<u8>, String> {
    let mut opt = usvg::Options::default();
    if let Some(bytes) = crate::plot_font::font_bytes() {
        let db = opt.fontdb_mut();
        db.load_font_data(bytes.to_vec());
        let family = db.faces().next().and_then(|f| f.families.first()).map(|f| f.0.clone());
        if let Some(family) = family {
            opt.fontdb_mut().set_sans_serif_family(family.clone());
            opt.font_family = family;
        }
    }
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| format!("the SVG drawn: {e}"))?;
    let page = svg2pdf::PageOptions { dpi: dpi as f32 };
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), page).map_err(|e| format!("converting to PDF: {e}"))
}
