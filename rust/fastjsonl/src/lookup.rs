//! Navigation inside a value the parser has already validated: skipping values, listing array
//! elements and resolving a pointer relative to a value (each step of a trace, say).

use crate::parse::{scan_number, scan_string, skip_ws, unescape, Span};
use crate::pointer::Pointer;

/// The offset just past the validated value starting at `i`.
pub fn skip_value(s: &[u8], i: usize) -> usize {
    match s[i] {
        b'"' => string_end(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match s[j] {
                    b'"' => {
                        j = string_end(s, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        b't' | b'n' => i + 4,
        b'f' => i + 5,
        _ => scan_number(s, i).map(|(end, _)| end).unwrap_or(s.len()),
    }
}

fn string_end(s: &[u8], i: usize) -> usize {
    scan_string(s, i).map(|(end, _)| end).unwrap_or(s.len())
}

/// The spans of the elements of the validated array at `array`; empty if it is not an array.
pub fn elements(s: &[u8], array: Span) -> Vec<Span> {
    let mut out = Vec::new();
    if s[array.start] != b'[' {
        return out;
    }
    let mut i = skip_ws(s, array.start + 1);
    while s[i] != b']' {
        let end = skip_value(s, i);
        out.push(Span { start: i, end });
        i = skip_ws(s, end);
        if s[i] == b',' {
            i = skip_ws(s, i + 1);
        }
    }
    out
}

/// The span of the value at `pointer` inside the validated value at `root`.
pub fn lookup(s: &[u8], root: Span, pointer: &Pointer) -> Option<Span> {
    let mut here = root;
    for depth in 0..pointer.len() {
        here = match s[here.start] {
            b'{' => member(s, here, pointer.segment(depth))?,
            b'[' => {
                let all = elements(s, here);
                (0..all.len()).find(|&k| pointer.matches_index(depth, k)).map(|k| all[k])?
            }
            _ => return None,
        };
    }
    Some(here)
}

fn member(s: &[u8], object: Span, name: &[u8]) -> Option<Span> {
    let mut i = skip_ws(s, object.start + 1);
    while s[i] == b'"' {
        let key_end = string_end(s, i);
        let raw = &s[i + 1..key_end - 1];
        let matches = if raw.contains(&b'\\') { unescape(raw) == name } else { raw == name };
        i = skip_ws(s, key_end);
        i = skip_ws(s, i + 1); // past ':'
        let end = skip_value(s, i);
        if matches {
            return Some(Span { start: i, end });
        }
        i = skip_ws(s, end);
        if s[i] == b',' {
            i = skip_ws(s, i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str, span: Span) -> &str {
        &s[span.start..span.end]
    }

    #[test]
    fn walks_validated_values() {
        let s = r#"[ {"type" : "search", "q": "a\"]"} ,{"type":"search_result","d":[1,[2]]}, 3 ]"#;
        let root = Span { start: 0, end: s.len() };
        let els = elements(s.as_bytes(), root);
        assert_eq!(els.len(), 3);
        assert_eq!(text(s, els[2]), "3");
        let ty = Pointer::parse("/type").unwrap();
        assert_eq!(lookup(s.as_bytes(), els[1], &ty).map(|sp| text(s, sp)), Some("\"search_result\""));
        assert_eq!(lookup(s.as_bytes(), els[2], &ty), None);
        let deep = Pointer::parse("/1/d/1/0").unwrap();
        assert_eq!(lookup(s.as_bytes(), root, &deep).map(|sp| text(s, sp)), Some("2"));
        let escaped = r#"{"a\/b": 1, "c": 2}"#;
        let key = Pointer::parse("/a~1b").unwrap();
        assert_eq!(
            lookup(escaped.as_bytes(), Span { start: 0, end: escaped.len() }, &key).map(|sp| text(escaped, sp)),
            Some("1")
        );
    }
}
