//! A deserializer adapter that makes serde's derived impls as strict as the
//! input format (docs/model.md: every object is a JSON object):
//!
//! - a struct is read from a JSON object only (serde also takes the array
//!   form `["h0", 1000, [...]]`, where a wrong order gives a wrong answer);
//! - a key may appear once per object (serde_json keeps the last of
//!   `{"a": 1, "a": 2}`, in a struct and in a map alike).
//!
//! It wraps any [`Deserializer`] and every visitor, sequence and map it hands
//! out, so the rules hold at every depth. Content buffered by serde itself
//! (untagged or internally tagged enums, `flatten`) is read without it.
//!
//! ```
//! use netbalance::strict_json::Strict;
//! use std::collections::BTreeMap;
//! #[derive(serde::Deserialize, Debug)]
//! struct P { x: u32 }
//! let de = |t| serde_json::Deserializer::from_str(t);
//! assert!(<P as serde::Deserialize>::deserialize(Strict::new(&mut de(r#"{"x":1}"#))).is_ok());
//! assert!(<P as serde::Deserialize>::deserialize(Strict::new(&mut de("[1]"))).is_err());
//! let dup = <BTreeMap<String, u32> as serde::Deserialize>::deserialize(Strict::new(&mut de(r#"{"a":1,"a":2}"#)));
//! assert!(dup.unwrap_err().to_string().contains("duplicate key \"a\""));
//! ```
//!
//! Cost: one hash set of the keys of the object being read (O(keys) time
//! and transient memory).

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::rc::Rc;

/// Where the text of a map key is put while it is read.
type Slot = Option<Rc<RefCell<Option<String>>>>;

/// The strict deserializer around `D`.
pub struct Strict<D> {
    de: D,
    key: Slot,
}

impl<D> Strict<D> {
    pub fn new(de: D) -> Self {
        Strict { de, key: None }
    }
}

struct Wrap<V> {
    v: V,
    key: Slot,
}

fn wrap<V>(v: V) -> Wrap<V> {
    Wrap { v, key: None }
}

macro_rules! forward {
    ($($name:ident),*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.de.$name(Wrap { v: visitor, key: self.key })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit_struct(name, wrap(v))
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_newtype_struct(name, wrap(v))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple(len, wrap(v))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple_struct(name, len, wrap(v))
    }
    /// A struct only from a map: the array form is refused.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(wrap(v))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_enum(name, variants, wrap(v))
    }
    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

impl<V> Wrap<V> {
    fn record(&self, s: &str) {
        if let Some(slot) = &self.key {
            *slot.borrow_mut() = Some(s.to_string());
        }
    }
}

macro_rules! visit {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: de::Error>(self, v: $t) -> Result<V::Value, E> {
            self.v.$name(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }

    visit!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.record(v);
        self.v.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.record(v);
        self.v.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.record(&v);
        self.v.visit_string(v)
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.v.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.v.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_some(Strict::new(d))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_newtype_struct(Strict::new(d))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.v.visit_seq(Seq(seq))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.v.visit_map(Map {
            map,
            seen: HashSet::new(),
        })
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.v.visit_enum(Enum(data))
    }
}

struct Seed<S> {
    seed: S,
    key: Slot,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict { de: d, key: self.key })
    }
}

fn seed<S>(seed: S) -> Seed<S> {
    Seed { seed, key: None }
}

struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, s: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(seed(s))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Map<A> {
    map: A,
    seen: HashSet<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, s: K) -> Result<Option<K::Value>, A::Error> {
        let slot = Rc::new(RefCell::new(None));
        let key = self.map.next_key_seed(Seed {
            seed: s,
            key: Some(slot.clone()),
        })?;
        if let Some(text) = slot.borrow_mut().take() {
            if self.seen.contains(&text) {
                return Err(de::Error::custom(format_args!("duplicate key {text:?}")));
            }
            self.seen.insert(text);
        }
        Ok(key)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, s: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(seed(s))
    }
    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;
    fn variant_seed<S: DeserializeSeed<'de>>(self, s: S) -> Result<(S::Value, Self::Variant), A::Error> {
        self.0.variant_seed(seed(s)).map(|(v, rest)| (v, Variant(rest)))
    }
}

struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, s: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(seed(s))
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, wrap(v))
    }
    /// A struct variant only from a map, like a struct.
    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], v: V) -> Result<V::Value, A::Error> {
        self.0.newtype_variant_seed(MapOnly(v))
    }
}

/// Reads a map into a visitor: the body of a struct variant.
struct MapOnly<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for MapOnly<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        Strict::new(d).deserialize_map(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        name: String,
        #[serde(default)]
        n: Option<u32>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        items: Vec<Inner>,
        map: BTreeMap<String, String>,
        #[serde(default)]
        kind: Option<Kind>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        A,
        B { x: u32 },
    }

    fn parse(text: &str) -> Result<Outer, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        Outer::deserialize(Strict::new(&mut de)).map_err(|e| e.to_string())
    }

    #[test]
    fn maps_pass_and_arrays_or_duplicates_fail_at_any_depth() {
        let ok = parse(r#"{"items":[{"name":"x","n":1}],"map":{"a":"1","b":"2"},"kind":{"b":{"x":3}}}"#).unwrap();
        assert_eq!(ok.items[0].n, Some(1));
        assert_eq!(ok.kind, Some(Kind::B { x: 3 }));
        assert!(parse(r#"{"items":[],"map":{},"kind":"a"}"#).is_ok());
        for (bad, needle) in [
            (r#"[[],{}]"#, "expected struct Outer"),
            (r#"{"items":[["x",1]],"map":{}}"#, "expected struct Inner"),
            (r#"{"items":[],"map":{"a":"1","a":"2"}}"#, "duplicate key \"a\""),
            (
                r#"{"items":[{"name":"x","name":"y"}],"map":{}}"#,
                "duplicate key \"name\"",
            ),
            (r#"{"items":[],"items":[],"map":{}}"#, "duplicate key \"items\""),
            (r#"{"items":[],"map":{},"kind":{"b":[3]}}"#, "struct variant"),
            (
                r#"{"items":[],"map":{},"kind":{"b":{"x":1,"x":2}}}"#,
                "duplicate key \"x\"",
            ),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
