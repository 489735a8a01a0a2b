//! One style for every plot (`simulate --plot`, `balance --report`,
//! `examples/paper`): the Okabe–Ito colour-blind-safe palette, a marker
//! per series (so that series stay apart in greyscale), no title inside the
//! figure (captions belong to the document), the legend beside the data,
//! its samples drawn like their series. SVG, PNG or PDF by the file's
//! extension, at a chosen size and scale (`--plot-size`, `--plot-dpi`);
//! a PDF is the SVG drawing converted ([`crate::plot_pdf`]).
//!
//! PNG text is laid out here rather than by plotters 0.3.7, whose ab_glyph
//! path ignores each glyph's left bearing (so "NETbalance" rendered as
//! "NE Tbalance").

use crate::error::{Error, Result};
use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind};
use std::path::Path;

/// Okabe & Ito's palette (blue, vermillion, bluish green, orange, sky
/// blue, reddish purple, black): distinguishable with every common colour
/// blindness, and of different lightness in greyscale.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(204, 121, 167),
    RGBColor(0, 0, 0),
];

/// Line width of every series, in pixels at scale 1.
pub const LINE: u32 = 2;
/// Width kept right of the data for the legend, at scale 1.
pub const LEGEND_WIDTH: u32 = 230;
/// Label font size at scale 1.
pub const FONT: u32 = 15;

/// Size and scale of a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Width and height in CSS pixels (SVG, PDF) or pixels at 96 dpi (PNG).
    pub size: (u32, u32),
    /// PNG resolution (the image has `size × dpi / 96` pixels); for a PDF the
    /// page is `size / dpi` inches; SVG ignores it.
    pub dpi: u32,
}

impl Frame {
    pub fn new(size: (u32, u32)) -> Frame {
        Frame { size, dpi: 96 }
    }

    /// Parse `--plot-size WxH` and `--plot-dpi N`.
    ///
    /// ```
    /// use netbalance::plot::Frame;
    /// assert_eq!(Frame::parse(Some("640x400"), Some(192), (900, 500)).unwrap().size, (640, 400));
    /// assert!(Frame::parse(Some("640"), None, (900, 500)).is_err());
    /// ```
    pub fn parse(size: Option<&str>, dpi: Option<u32>, default: (u32, u32)) -> Result<Frame> {
        let size = match size {
            None => default,
            Some(s) => {
                let bad = || {
                    Error::usage(format!(
                        "--plot-size {s:?}: expected WIDTHxHEIGHT in pixels, e.g. 900x500"
                    ))
                };
                let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
                let (w, h): (u32, u32) = (
                    w.trim().parse().map_err(|_| bad())?,
                    h.trim().parse().map_err(|_| bad())?,
                );
                if !(320..=10_000).contains(&w) || !(200..=10_000).contains(&h) {
                    return Err(Error::usage(format!(
                        "--plot-size {s}: width 320..10000 and height 200..10000"
                    )));
                }
                (w, h)
            }
        };
        let dpi = dpi.unwrap_or(96);
        if !(48..=600).contains(&dpi) {
            return Err(Error::usage(format!("--plot-dpi {dpi}: between 48 and 600")));
        }
        Ok(Frame { size, dpi })
    }

    /// Scale factor of pixels for this output (1 for SVG).
    fn scale(&self, png: bool) -> f64 {
        if png {
            f64::from(self.dpi) / 96.0
        } else {
            1.0
        }
    }
}

/// What a figure's drawing code gets: the data area, the legend area, and
/// the scale to apply to fixed pixel sizes.
pub struct Panes<'a, DB: DrawingBackend> {
    pub data: DrawingArea<DB, Shift>,
    pub legend: DrawingArea<DB, Shift>,
    pub scale: f64,
    _root: std::marker::PhantomData<&'a ()>,
}

impl<DB: DrawingBackend> Panes<'_, DB> {
    /// A pixel size scaled to this output.
    pub fn px(&self, v: u32) -> u32 {
        ((f64::from(v) * self.scale).round() as u32).max(1)
    }
    /// The label font at this scale.
    pub fn font(&self) -> TextStyle<'static> {
        ("sans-serif", f64::from(FONT) * self.scale).into_font().into()
    }
}

/// How a legend sample is drawn: a line with the series' marker, a marker
/// alone, or a filled band.
#[derive(Debug, Clone, Copy)]
pub enum Sample {
    /// A line, with the series' marker kind if it has markers.
    Line(RGBColor, Option<usize>),
    Marker(RGBColor, usize),
    Band(RGBColor),
}

/// Draw marker `kind` (circle, triangle, square, diamond, cross, …) at `at`.
pub fn marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    kind: usize,
    size: i32,
    color: RGBColor,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let (x, y) = at;
    let style = color.filled();
    match kind % 5 {
        0 => area.draw(&Circle::new(at, size, style)).map_err(e),
        1 => area
            .draw(&Polygon::new(
                vec![(x, y - size - 1), (x - size - 1, y + size), (x + size + 1, y + size)],
                style,
            ))
            .map_err(e),
        2 => area
            .draw(&Rectangle::new([(x - size, y - size), (x + size, y + size)], style))
            .map_err(e),
        3 => area
            .draw(&Polygon::new(
                vec![
                    (x, y - size - 1),
                    (x + size + 1, y),
                    (x, y + size + 1),
                    (x - size - 1, y),
                ],
                style,
            ))
            .map_err(e),
        _ => {
            let s = Color::stroke_width(&color, 2);
            area.draw(&PathElement::new(vec![(x - size, y - size), (x + size, y + size)], s))
                .map_err(e)?;
            area.draw(&PathElement::new(vec![(x - size, y + size), (x + size, y - size)], s))
                .map_err(e)
        }
    }
}

/// Draw the legend entries top-down in the legend pane.
pub fn legend<DB: DrawingBackend>(panes: &Panes<DB>, entries: &[(String, Sample)]) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let area = &panes.legend;
    let row = panes.px(26) as i32;
    let (x0, w) = (panes.px(12) as i32, panes.px(30) as i32);
    let mut y = panes.px(30) as i32;
    for (name, sample) in entries {
        match *sample {
            Sample::Line(c, kind) => {
                area.draw(&PathElement::new(
                    vec![(x0, y), (x0 + w, y)],
                    Color::stroke_width(&c, panes.px(LINE)),
                ))
                .map_err(e)?;
                if let Some(kind) = kind {
                    marker(area, (x0 + w / 2, y), kind, panes.px(4) as i32, c)?;
                }
            }
            Sample::Marker(c, kind) => marker(area, (x0 + w / 2, y), kind, panes.px(5) as i32, c)?,
            Sample::Band(c) => area
                .draw(&Rectangle::new([(x0, y - row / 4), (x0 + w, y + row / 4)], c.filled()))
                .map_err(e)?,
        }
        let style = panes.font().pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        area.draw_text(name, &style, (x0 + w + panes.px(8) as i32, y))
            .map_err(e)?;
        y += row;
    }
    Ok(())
}

/// Draw a figure into `path` (.svg, .png, or .pdf: drawn as SVG, converted): `draw` is called with the
/// panes on the chosen backend (generic code is passed twice, once per
/// backend).
pub fn render(
    path: &Path,
    frame: Frame,
    svg: impl FnOnce(&Panes<SVGBackend>) -> std::result::Result<(), String>,
    png: impl FnOnce(&Panes<Kerned<BitMapBackend>>) -> std::result::Result<(), String>,
) -> Result<()> {
    crate::plot_font::ensure_font()?;
    let fail = |e: String| Error::io(path.display().to_string(), std::io::Error::other(format!("plot: {e}")));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "svg" => {
            let root = SVGBackend::new(path, frame.size).into_drawing_area();
            let panes = split(root, frame.scale(false)).map_err(fail)?;
            svg(&panes).map_err(fail)?;
            panes.data.present().map_err(|e| fail(e.to_string()))
        }
        "png" => {
            let scale = frame.scale(true);
            let size = (
                (f64::from(frame.size.0) * scale) as u32,
                (f64::from(frame.size.1) * scale) as u32,
            );
            let root = Kerned(BitMapBackend::new(path, size)).into_drawing_area();
            let panes = split(root, scale).map_err(fail)?;
            png(&panes).map_err(fail)?;
            panes.data.present().map_err(|e| fail(e.to_string()))
        }
        "pdf" => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, frame.size).into_drawing_area();
                let panes = split(root, frame.scale(false)).map_err(fail)?;
                svg(&panes).map_err(fail)?;
                panes.data.present().map_err(|e| fail(e.to_string()))?;
            }
            let pdf = crate::plot_pdf::svg_to_pdf(&text, frame.dpi).map_err(fail)?;
            std::fs::write(path, pdf).map_err(|e| Error::io(path.display().to_string(), e))
        }
        _ => Err(Error::usage(format!(
            "{}: a plot file ends in .svg, .png or .pdf",
            path.display()
        ))),
    }
}

fn split<'a, DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    scale: f64,
) -> std::result::Result<Panes<'a, DB>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (w, _) = root.dim_in_pixel();
    let legend_w = ((f64::from(LEGEND_WIDTH) * scale) as u32).min(w / 3);
    let (data, legend) = root.split_horizontally(w - legend_w);
    Ok(Panes {
        data,
        legend,
        scale,
        _root: std::marker::PhantomData,
    })
}

/// A bitmap backend whose text is laid out glyph by glyph with each
/// glyph's bearing and kerning (upright and rotated).
pub struct Kerned<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for Kerned<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, (iw, ih), src)
    }
    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        let font = crate::plot_font::font_bytes().and_then(|b| FontRef::try_from_slice(b).ok());
        let Some(font) = font else {
            return self.0.draw_text(text, style, pos);
        };
        let trans = style.transform();
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size() as f32;
        let scaled = font.as_scaled(size);
        let mut width = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let g = scaled.glyph_id(c);
            if let Some(p) = prev {
                width += scaled.kern(p, g);
            }
            width += scaled.h_advance(g);
            prev = Some(g);
        }
        // plotters' own height estimate, so that vertical anchors match its layout
        let height = (f64::from(size) / 1.24) as i32;
        let dx = match style.anchor().h_pos {
            plotters_backend::text_anchor::HPos::Left => 0,
            plotters_backend::text_anchor::HPos::Right => -(width as i32),
            plotters_backend::text_anchor::HPos::Center => -(width as i32) / 2,
        };
        let dy = match style.anchor().v_pos {
            plotters_backend::text_anchor::VPos::Top => 0,
            plotters_backend::text_anchor::VPos::Center => -height / 2,
            plotters_backend::text_anchor::VPos::Bottom => -height,
        };
        let (w, h) = self.get_size();
        let mut x_pen = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                x_pen += scaled.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(size, ab_glyph::point(x_pen, 0.0));
            if let Some(q) = scaled.outline_glyph(glyph) {
                let b = q.px_bounds();
                let y0 = (size / 2.0 + b.min.y) as i32;
                let mut pixels = Vec::new();
                q.draw(|x, y, cov| pixels.push((x as i32 + b.min.x as i32, y as i32 + y0, cov)));
                for (x, y, cov) in pixels {
                    let (x, y) = trans.transform(dx + x, dy + y);
                    let (x, y) = (pos.0 + x, pos.1 + y);
                    if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h && cov > 0.0 {
                        let c = BackendColor {
                            alpha: color.alpha * f64::from(cov.min(1.0)),
                            rgb: color.rgb,
                        };
                        self.0.draw_pixel((x, y), c)?;
                    }
                }
            }
            x_pen += scaled.h_advance(id);
        }
        Ok(())
    }
}
