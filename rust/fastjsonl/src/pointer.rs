//! RFC 6901 JSON pointers (`/info/puzzle_id`), parsed once and matched while a line is parsed.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    segments: Vec<Vec<u8>>,
}

impl Pointer {
    /// Parses a pointer: `""` is the whole document, otherwise it must start with `/`;
    /// `~1` decodes to `/` and `~0` to `~`.
    pub fn parse(text: &str) -> Result<Pointer, String> {
        if text.is_empty() {
            return Ok(Pointer { text: String::new(), segments: Vec::new() });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("invalid JSON pointer {text:?}: it must be empty or start with '/'"));
        };
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            let mut seg = Vec::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => seg.push(b'~'),
                        Some('1') => seg.push(b'/'),
                        _ => return Err(format!("invalid JSON pointer {text:?}: '~' must be followed by 0 or 1")),
                    }
                } else {
                    let mut buf = [0u8; 4];
                    seg.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            segments.push(seg);
        }
        Ok(Pointer { text: text.to_owned(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn segment(&self, depth: usize) -> &[u8] {
        &self.segments[depth]
    }

    /// The last segment, used to name a carried field (`/question` → `question`).
    pub fn last_segment(&self) -> Option<&[u8]> {
        self.segments.last().map(|s| s.as_slice())
    }

    /// Whether `segment(depth)` names array element `index` (canonical decimal, no leading zero).
    pub fn matches_index(&self, depth: usize, index: usize) -> bool {
        let seg = &self.segments[depth];
        if seg.is_empty() || (seg.len() > 1 && seg[0] == b'0') {
            return false;
        }
        let mut n: usize = 0;
        for &b in seg {
            if !b.is_ascii_digit() {
                return false;
            }
            n = match n.checked_mul(10).and_then(|n| n.checked_add((b - b'0') as usize)) {
                Some(n) => n,
                None => return false,
            };
        }
        n == index
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            f.write_str("\"\" (the whole record)")
        } else {
            f.write_str(&self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_segments_and_escapes() {
        let p = Pointer::parse("/a~1b/c~0d/0").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.segment(0), b"a/b");
        assert_eq!(p.segment(1), b"c~d");
        assert!(p.matches_index(2, 0));
        assert!(!p.matches_index(2, 1));
        assert!(Pointer::parse("").unwrap().is_empty());
        assert_eq!(Pointer::parse("/").unwrap().segment(0), b"");
    }

    #[test]
    fn rejects_bad_pointers() {
        assert!(Pointer::parse("a/b").is_err());
        assert!(Pointer::parse("/a~2").is_err());
        assert!(Pointer::parse("/a~").is_err());
    }

    #[test]
    fn index_must_be_canonical() {
        let p = Pointer::parse("/01").unwrap();
        assert!(!p.matches_index(0, 1));
        let p = Pointer::parse("/-").unwrap();
        assert!(!p.matches_index(0, 0));
    }
}
