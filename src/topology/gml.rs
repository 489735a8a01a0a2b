//! A small, tolerant reader for GML (Graph Modelling Language) as the
//! Internet Topology Zoo writes it: `key value` pairs, values being numbers,
//! quoted strings or `[ … ]` lists; `#` comments.

use super::build::{Attributes, GraphBuilder};
use crate::error::{Error, Location, Result};
use crate::model::Topology;

/// A GML value; lists keep each entry's line for error messages.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// A number, with its text (node ids are compared as written).
    Number(f64, String),
    Text(String),
    List(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    value: Value,
    line: usize,
}

/// True if, among its first words (outside `#` comments), the text has
/// `graph` followed by `[`: GML, not an edge list.
pub(super) fn looks_like_gml(text: &str) -> bool {
    let words: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .take(200)
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        w.starts_with("graph[") || (*w == "graph" && words.get(i + 1).is_some_and(|n| n.starts_with('[')))
    })
}

/// Import a Topology Zoo GML file: `graph [ node [ id label ] edge [ source target ] ]`.
/// Node ids become the sanitized labels; `LinkSpeedRaw` (bit/s) or
/// `LinkSpeed` + `LinkSpeedUnits` give a link's Mbit/s.
///
/// Complexity: O(length of the text + nodes + edges).
pub(super) fn import(text: &str, file: &str, defaults: Attributes) -> Result<Topology> {
    let at = |line: usize, msg: String| Error::input(Location::file(file).at_line(line), msg);
    let entries = Parser::new(text).document().map_err(|(line, msg)| at(line, msg))?;
    let graph = entries
        .iter()
        .find_map(|e| match (&e.key[..], &e.value) {
            ("graph", Value::List(items)) => Some(items),
            _ => None,
        })
        .ok_or_else(|| at(1, "no `graph [ … ]` list found".into()))?;
    let mut g = GraphBuilder::default();
    for node in graph.iter().filter(|e| e.key == "node") {
        let Value::List(items) = &node.value else {
            return Err(at(node.line, "`node` must be a list `[ … ]`".into()));
        };
        let id = key_of(items, "id").ok_or_else(|| at(node.line, "node without an `id`".into()))?;
        let label = text_of(items, "label");
        g.add_node(&id, label.as_deref()).map_err(|m| at(node.line, m))?;
    }
    for edge in graph.iter().filter(|e| e.key == "edge") {
        let Value::List(items) = &edge.value else {
            return Err(at(edge.line, "`edge` must be a list `[ … ]`".into()));
        };
        let end = |name: &str| {
            let key = key_of(items, name).ok_or_else(|| at(edge.line, format!("edge without a `{name}`")))?;
            g.node(&key)
                .ok_or_else(|| at(edge.line, format!("edge {name} {key} is not a node id")))
        };
        let (a, b) = (end("source")?, end("target")?);
        let mbps = super::zoo_speed_mbps(
            number_of(items, "LinkSpeedRaw"),
            number_of(items, "LinkSpeed"),
            text_of(items, "LinkSpeedUnits").as_deref(),
        );
        g.add_edge(a, b, mbps);
    }
    Ok(g.finish(defaults))
}

fn get<'a>(items: &'a [Entry], key: &str) -> Option<&'a Value> {
    items.iter().find(|e| e.key == key).map(|e| &e.value)
}

/// A node id as a key: numbers as integers where they are whole (`3` = `3.0`).
fn key_of(items: &[Entry], key: &str) -> Option<String> {
    match get(items, key)? {
        Value::Number(v, _) if v.fract() == 0.0 && v.abs() < 9e15 => Some(format!("{}", *v as i64)),
        Value::Number(_, raw) => Some(raw.clone()),
        Value::Text(s) => Some(s.clone()),
        Value::List(_) => None,
    }
}

fn text_of(items: &[Entry], key: &str) -> Option<String> {
    match get(items, key)? {
        Value::Text(s) => Some(s.clone()),
        Value::Number(_, raw) => Some(raw.clone()),
        Value::List(_) => None,
    }
}

fn number_of(items: &[Entry], key: &str) -> Option<f64> {
    match get(items, key)? {
        Value::Number(v, _) => Some(*v),
        Value::Text(s) => s.trim().parse().ok(),
        Value::List(_) => None,
    }
}

/// Recursive-descent parser over the characters, tracking the line.
struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    /// Lists open around the current position.
    depth: usize,
}

/// The deepest nesting of lists accepted (Topology Zoo files nest 2 deep, yEd 3).
const MAX_DEPTH: usize = 64;

type ParseResult<T> = std::result::Result<T, (usize, String)>;

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            chars: text.trim_start_matches('\u{feff}').chars().peekable(),
            line: 1,
            depth: 0,
        }
    }

    fn document(&mut self) -> ParseResult<Vec<Entry>> {
        let entries = self.entries()?;
        match self.chars.peek() {
            None => Ok(entries),
            Some(']') => Err((self.line, "unexpected `]` (no list is open)".into())),
            Some(c) => Err((self.line, format!("unexpected {c:?}"))),
        }
    }

    /// `key value` pairs up to `]` or the end.
    fn entries(&mut self) -> ParseResult<Vec<Entry>> {
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            match self.chars.peek() {
                None | Some(']') => return Ok(entries),
                Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                    let line = self.line;
                    let key = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                    self.skip_space();
                    let value = self.value(&key)?;
                    entries.push(Entry { key, value, line });
                }
                Some(c) => return Err((self.line, format!("expected a key, found {c:?}"))),
            }
        }
    }

    fn value(&mut self, key: &str) -> ParseResult<Value> {
        let line = self.line;
        match self.chars.peek().copied() {
            None => Err((line, format!("key `{key}` has no value (unexpected end of file)"))),
            Some('[') => {
                self.chars.next();
                if self.depth == MAX_DEPTH {
                    return Err((line, format!("lists nested deeper than {MAX_DEPTH}")));
                }
                self.depth += 1;
                let items = self.entries()?;
                self.depth -= 1;
                match self.chars.next() {
                    Some(']') => Ok(Value::List(items)),
                    _ => Err((line, format!("list `{key} [` opened here is never closed"))),
                }
            }
            Some('"') => {
                self.chars.next();
                let mut s = String::new();
                loop {
                    match self.chars.next() {
                        None => return Err((line, format!("string of `{key}` opened here is never closed"))),
                        Some('"') => return Ok(Value::Text(decode_entities(&s))),
                        Some(c) => {
                            if c == '\n' {
                                self.line += 1;
                            }
                            s.push(c);
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => {
                let raw = self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'));
                raw.parse::<f64>()
                    .map(|v| Value::Number(v, raw.clone()))
                    .map_err(|_| (line, format!("`{key}`: {raw:?} is not a number")))
            }
            Some(c) => Err((
                line,
                format!("`{key}`: expected a number, a \"string\" or a [ list ], found {c:?}"),
            )),
        }
    }

    fn skip_space(&mut self) {
        while let Some(&c) = self.chars.peek() {
            if c == '#' {
                while self.chars.peek().is_some_and(|&c| c != '\n') {
                    self.chars.next();
                }
            } else if c.is_whitespace() {
                if c == '\n' {
                    self.line += 1;
                }
                self.chars.next();
            } else {
                break;
            }
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(&c) = self.chars.peek().filter(|&&c| keep(c)) {
            s.push(c);
            self.chars.next();
        }
        s
    }
}

/// GML strings escape with HTML entities (`&amp;`, `&quot;`, `&#38;`).
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| match &rest[1..e] {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            code => code
                .strip_prefix('#')
                .and_then(|n| n.parse::<u32>().ok())
                .and_then(char::from_u32),
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import_str(text: &str) -> Result<Topology> {
        import(text, "t.gml", Attributes::default())
    }

    #[test]
    fn reads_nested_lists_strings_numbers_and_link_speeds() {
        let t = import_str(
            "# a comment\nCreator \"x\"\ngraph [\n  directed 0\n  node [ id 0 label \"New York\" Latitude 40.7 ]\n  node [ id 1 label \"AT&amp;T\" ]\n  node [ id 2 ]\n  edge [ source 0 target 1 LinkSpeed \"10\" LinkSpeedUnits \"G\" LinkSpeedRaw 10000000000.0 ]\n  edge [ source 1 target 0 LinkSpeed \"2.5\" LinkSpeedUnits \"G\" ]\n  edge [ source 1 target 2 ]\n  edge [ source 2 target 2 ]\n]\n",
        )
        .unwrap();
        let ids: Vec<_> = t.vnodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["New_York", "AT_T", "2"]);
        let speeds: Vec<_> = t.links.iter().map(|l| (l.a.as_str(), l.b.as_str(), l.mbps)).collect();
        assert_eq!(speeds, [("New_York", "AT_T", 12_500.0), ("AT_T", "2", 1000.0)]);
    }

    #[test]
    fn errors_name_the_line() {
        let deep = format!("graph [\n{}", "a [ ".repeat(100));
        let cases = [
            (
                "graph [\n node [ id 0 ]\n node [ id 0 ]\n]",
                "t.gml:3: duplicate node id \"0\"",
            ),
            (
                "graph [\n node [ id 0 ]\n edge [ source 0 target 9 ]\n]",
                "t.gml:3: edge target 9 is not a node id",
            ),
            ("graph [\n node [ label \"x\" ]\n]", "t.gml:2: node without an `id`"),
            (
                "graph [\n node [ id 0\n",
                "t.gml:2: list `node [` opened here is never closed",
            ),
            (
                "graph [\n node [ id 0 label \"x ]\n]\n",
                "t.gml:2: string of `label` opened here is never closed",
            ),
            (
                "graph [\n node [ id 0 ] ]\n]",
                "t.gml:3: unexpected `]` (no list is open)",
            ),
            ("graph [\n node [ id 1x2 ]\n]", "t.gml:2: `id`: \"1x2\" is not a number"),
            ("node [ id 0 ]", "t.gml:1: no `graph [ … ]` list found"),
            ("graph [\n  = 3\n]", "t.gml:2: expected a key, found '='"),
            (deep.as_str(), "t.gml:2: lists nested deeper than 64"),
        ];
        for (text, expected) in cases {
            assert_eq!(import_str(text).unwrap_err().to_string(), expected, "{text}");
        }
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_gml("# comment\ngraph [\n"));
        assert!(looks_like_gml("Creator \"yFiles\"\nVersion 2\ngraph\n[\n"));
        assert!(!looks_like_gml("graph node 3\n"));
        assert!(!looks_like_gml("a b\nb c\n"));
    }
}
