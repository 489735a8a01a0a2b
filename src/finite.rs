//! The check that no result is printed with a non-finite number in it.
//!
//! JSON has no NaN or infinity: `serde_json` writes them as `null`, so a
//! result such as `"tau": null` would leave with exit 0 and look like an
//! answer. Input bounds (docs/limits.md) keep the model finite; this check is
//! the last line behind them: every JSON value netbalance writes to stdout is
//! walked first, and the first non-finite number is reported with its path.
//!
//! ```
//! #[derive(serde::Serialize)]
//! struct R { tau: f64, runs: Vec<f64> }
//! assert_eq!(netbalance::finite::first_non_finite(&R { tau: 1.5, runs: vec![1.0] }), None);
//! let bad = R { tau: 1.5, runs: vec![1.0, f64::NAN] };
//! assert_eq!(netbalance::finite::first_non_finite(&bad).as_deref(), Some("runs[1]"));
//! ```
//!
//! Cost: one pass over the value, O(size of the output), no allocation
//! except for the path of a number found.

use serde::ser::{self, Serialize};
use std::fmt;

/// The path (`a.b[2]`) of the first non-finite `f32`/`f64` in `value`, or
/// `None` when every number is finite.
pub fn first_non_finite<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut walker = Walker { path: Vec::new() };
    match value.serialize(&mut walker) {
        Ok(()) => None,
        Err(Found(path)) if path.is_empty() => None,
        Err(Found(path)) => Some(path),
    }
}

/// Refuse to write `value` when it holds a non-finite number: the error
/// names the number's path and says that nothing was written.
pub fn check<T: Serialize + ?Sized>(value: &T) -> crate::error::Result<()> {
    match first_non_finite(value) {
        None => Ok(()),
        Some(path) => Err(crate::error::Error::io(
            "<stdout>",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the result holds a non-finite number at {path}; nothing of it was written"),
            ),
        )),
    }
}

/// A JSON path segment.
enum Seg {
    Key(String),
    Index(usize),
}

struct Walker {
    path: Vec<Seg>,
}

impl Walker {
    fn found(&self) -> Found {
        let mut s = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) if s.is_empty() => s.push_str(k),
                Seg::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        Found(if s.is_empty() { "(the value itself)".into() } else { s })
    }
    fn float(&self, v: f64) -> Result<(), Found> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(self.found())
        }
    }
    fn nested<T: Serialize + ?Sized>(&mut self, seg: Seg, value: &T) -> Result<(), Found> {
        self.path.push(seg);
        value.serialize(&mut *self)?;
        self.path.pop();
        Ok(())
    }
}

/// "Error" that carries the path of the number found.
#[derive(Debug)]
struct Found(String);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "non-finite number at {}", self.0)
    }
}
impl std::error::Error for Found {}
impl ser::Error for Found {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        // A value that cannot be serialised is not this check's business:
        // the writer reports it. Report "nothing found" by an empty path.
        Found(String::new())
    }
}

/// Sequence, tuple, map and struct walking: one type for all of them.
struct Compound<'a> {
    walker: &'a mut Walker,
    index: usize,
    /// True when [`Walker::compound`] pushed an enum variant's name onto the path.
    in_variant: bool,
}

impl<'a> Compound<'a> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Found> {
        let i = self.index;
        self.index += 1;
        self.walker.nested(Seg::Index(i), value)
    }
}

macro_rules! ok {
    ($($name:ident($($t:ty),*);)*) => {
        $(fn $name(self, $(_: $t),*) -> Result<(), Found> { Ok(()) })*
    };
}

impl<'a> ser::Serializer for &'a mut Walker {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    ok! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32); serialize_i64(i64);
        serialize_u8(u8); serialize_u16(u16); serialize_u32(u32); serialize_u64(u64); serialize_char(char);
        serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str); serialize_unit_variant(&'static str, u32, &'static str);
    }
    fn serialize_f32(self, v: f32) -> Result<(), Found> {
        self.float(v as f64)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Found> {
        self.float(v)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Found> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Found> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Found> {
        self.nested(Seg::Key(variant.into()), value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Found> {
        Ok(self.compound(None))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Found> {
        Ok(self.compound(None))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Found> {
        Ok(self.compound(None))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Found> {
        Ok(self.compound(Some(v)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Found> {
        Ok(self.compound(None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Found> {
        Ok(self.compound(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Found> {
        Ok(self.compound(Some(v)))
    }
}

impl Walker {
    fn compound(&mut self, variant: Option<&'static str>) -> Compound<'_> {
        if let Some(v) = variant {
            self.path.push(Seg::Key(v.into()));
        }
        Compound {
            walker: self,
            index: 0,
            in_variant: variant.is_some(),
        }
    }
}

impl Compound<'_> {
    fn finish(self) -> Result<(), Found> {
        if self.in_variant {
            self.walker.path.pop();
        }
        Ok(())
    }
}

macro_rules! seq_like {
    ($($tr:ident :: $method:ident;)*) => {$(
        impl ser::$tr for Compound<'_> {
            type Ok = ();
            type Error = Found;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Found> {
                self.element(value)
            }
            fn end(self) -> Result<(), Found> {
                self.finish()
            }
        }
    )*};
}
seq_like! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
}

macro_rules! struct_like {
    ($($tr:ident;)*) => {$(
        impl ser::$tr for Compound<'_> {
            type Ok = ();
            type Error = Found;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Found> {
                self.walker.nested(Seg::Key(key.into()), value)
            }
            fn end(self) -> Result<(), Found> {
                self.finish()
            }
        }
    )*};
}
struct_like! { SerializeStruct; SerializeStructVariant; }

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Found;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Found> {
        self.index += 1;
        // Keys are named by their JSON text when they are strings or numbers.
        let name = serde_json::to_value(key)
            .ok()
            .map(|k| match k {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .unwrap_or_else(|| format!("<key {}>", self.index - 1));
        self.walker.path.push(Seg::Key(name));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Found> {
        value.serialize(&mut *self.walker)?;
        self.walker.path.pop();
        Ok(())
    }
    fn end(self) -> Result<(), Found> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::first_non_finite;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Line {
        Window { t: f64, tau: Option<f64> },
        Summary { relative_runtime: f64 },
    }

    #[test]
    fn finds_the_first_non_finite_number_and_names_its_path() {
        let ok = vec![
            Line::Window { t: 1.0, tau: Some(2.0) },
            Line::Summary { relative_runtime: 0.4 },
        ];
        assert_eq!(first_non_finite(&ok), None);
        let bad = vec![
            Line::Window { t: 1.0, tau: None },
            Line::Window {
                t: 2.0,
                tau: Some(f64::INFINITY),
            },
        ];
        assert_eq!(first_non_finite(&bad).as_deref(), Some("[1].tau"));
        let mut m = BTreeMap::new();
        m.insert("h0-v0", vec![0.5, f64::NEG_INFINITY]);
        assert_eq!(first_non_finite(&m).as_deref(), Some("h0-v0[1]"));
        assert_eq!(first_non_finite(&f64::NAN).as_deref(), Some("(the value itself)"));
        let v: serde_json::Value = serde_json::json!({"a": [1, 2.5, {"b": null}]});
        assert_eq!(first_non_finite(&v), None);
    }

    #[test]
    fn the_writers_refuse_a_non_finite_result_and_write_nothing() {
        let mut out = Vec::new();
        let err = crate::io::write_ndjson_line(&mut out, &serde_json::json!({"ok": 1})).map(|_| ());
        assert!(err.is_ok());
        out.clear();
        let line = vec![Line::Summary {
            relative_runtime: f64::NAN,
        }];
        let err = crate::io::write_ndjson_line(&mut out, &line).unwrap_err();
        assert!(out.is_empty(), "{out:?}");
        assert!(
            err.to_string().contains("non-finite number at [0].relative_runtime"),
            "{err}"
        );
        assert!(crate::io::rounded(&line).is_err());
    }
}
