//! A strict, allocation-free JSON validator for one line that, in the same pass, records where
//! the values named by a set of JSON pointers sit. It never builds a value: the operations work
//! on byte spans of the line, which is what makes them fast and their output byte-exact.

use crate::pointer::Pointer;

/// The most pointers one parse can track (one bit each in a `u64` mask).
pub const MAX_POINTERS: usize = 64;
/// Nesting deeper than this is rejected rather than risking the stack.
pub const MAX_DEPTH: usize = 256;

/// Byte range `start..end` of a value inside the parsed line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// Why a line is not a valid JSON object; `offset` is the byte in the line where it went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub kind: SyntaxErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyntaxErrorKind {
    InvalidUtf8,
    /// The line ended inside a value.
    UnexpectedEnd,
    Unexpected(String),
    NonFinite(&'static str),
    DuplicateKey(String),
    NotAnObject(&'static str),
    TooDeep,
}

impl SyntaxErrorKind {
    pub fn message(&self) -> String {
        match self {
            SyntaxErrorKind::InvalidUtf8 => "invalid UTF-8".to_owned(),
            SyntaxErrorKind::UnexpectedEnd => "invalid JSON: the line ends in the middle of a value".to_owned(),
            SyntaxErrorKind::Unexpected(what) => format!("invalid JSON: {what}"),
            SyntaxErrorKind::NonFinite(word) => {
                format!("invalid JSON: {word} is not a JSON number (NaN and Infinity are not allowed)")
            }
            SyntaxErrorKind::DuplicateKey(key) => format!("duplicate key {key:?} in one object"),
            SyntaxErrorKind::NotAnObject(found) => format!("the line is {found}, not an object"),
            SyntaxErrorKind::TooDeep => format!("nesting deeper than {MAX_DEPTH} levels"),
        }
    }
}

fn err<T>(offset: usize, kind: SyntaxErrorKind) -> Result<T, SyntaxError> {
    Err(SyntaxError { offset, kind })
}

fn unexpected<T>(s: &[u8], i: usize, expected: &str) -> Result<T, SyntaxError> {
    if i >= s.len() {
        return err(i, SyntaxErrorKind::UnexpectedEnd);
    }
    let found = describe_byte(s, i);
    err(i, SyntaxErrorKind::Unexpected(format!("expected {expected}, found {found}")))
}

fn describe_byte(s: &[u8], i: usize) -> String {
    let rest = &s[i..];
    let ch = std::str::from_utf8(&rest[..rest.len().min(4)])
        .ok()
        .or_else(|| (1..4).rev().find_map(|n| std::str::from_utf8(&rest[..n.min(rest.len())]).ok()))
        .and_then(|t| t.chars().next());
    match ch {
        Some(c) if c.is_control() => format!("control character U+{:04X}", c as u32),
        Some(c) => format!("{c:?}"),
        None => format!("byte 0x{:02x}", s[i]),
    }
}

/// Parses lines with a fixed set of pointers, reusing its buffers between lines.
pub struct Parser {
    pointers: Vec<Pointer>,
    found: Vec<Option<Span>>,
    /// Keys seen so far in the open object at each depth, for duplicate detection.
    keys: Vec<Vec<Key>>,
}

/// An object key: where its opening quote is, and its text as written (a span of the line) or
/// decoded when it holds escapes.
#[derive(Clone, Debug)]
struct Key {
    offset: usize,
    text: KeyText,
}

#[derive(Clone, Debug)]
enum KeyText {
    Raw(Span),
    Decoded(Vec<u8>),
}

/// Objects up to this many keys are checked for duplicates key by key; larger ones by sorting
/// once at the end, so a 10 000-key object costs n log n, not n².
const LINEAR_KEY_CHECK: usize = 16;

impl Parser {
    pub fn new(pointers: Vec<Pointer>) -> Parser {
        assert!(pointers.len() <= MAX_POINTERS, "at most {MAX_POINTERS} pointers");
        let found = vec![None; pointers.len()];
        Parser { pointers, found, keys: Vec::new() }
    }

    pub fn pointers(&self) -> &[Pointer] {
        &self.pointers
    }

    /// Validates `line` (without its line terminator) as one JSON object and records the span
    /// of each pointer's value, which `found` then returns.
    pub fn parse(&mut self, line: &[u8]) -> Result<(), SyntaxError> {
        if simdutf8::basic::from_utf8(line).is_err() {
            let at = simdutf8::compat::from_utf8(line).err().map_or(0, |e| e.valid_up_to());
            return err(at, SyntaxErrorKind::InvalidUtf8);
        }
        self.found.iter_mut().for_each(|f| *f = None);
        let start = skip_ws(line, 0);
        let mask = if self.pointers.is_empty() { 0 } else { u64::MAX >> (64 - self.pointers.len()) };
        let root_kind = line.get(start).copied();
        let end = self.value(line, start, 0, mask)?;
        let after = skip_ws(line, end);
        if after != line.len() {
            return unexpected(line, after, "the end of the line after the JSON value");
        }
        if root_kind != Some(b'{') {
            let found = match root_kind {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                _ => "a number",
            };
            return err(start, SyntaxErrorKind::NotAnObject(found));
        }
        Ok(())
    }

    /// The span of pointer `i`'s value in the last parsed line, if present.
    pub fn found(&self, i: usize) -> Option<Span> {
        self.found[i]
    }

    fn record(&mut self, mask: u64, span: Span) {
        let mut m = mask;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            self.found[p] = Some(span);
            m &= m - 1;
        }
    }

    /// Parses the value at `i`; `mask` holds the pointers whose first `depth` segments match
    /// the path to this value. Returns the offset just past the value.
    fn value(&mut self, s: &[u8], i: usize, depth: usize, mask: u64) -> Result<usize, SyntaxError> {
        // Pointers that end exactly here name this value.
        let ending = self.ending_at(mask, depth);
        let end = match s.get(i) {
            None => return err(i, SyntaxErrorKind::UnexpectedEnd),
            Some(b'{') => self.object(s, i, depth, mask & !ending)?,
            Some(b'[') => self.array(s, i, depth, mask & !ending)?,
            Some(b'"') => scan_string(s, i)?.0,
            Some(b't') => literal(s, i, b"true")?,
            Some(b'f') => literal(s, i, b"false")?,
            Some(b'n') => literal(s, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => scan_number(s, i)?.0,
            Some(b'N') if s[i..].starts_with(b"NaN") => return err(i, SyntaxErrorKind::NonFinite("NaN")),
            Some(b'I') if s[i..].starts_with(b"Infinity") => return err(i, SyntaxErrorKind::NonFinite("Infinity")),
            Some(_) => return unexpected(s, i, "a JSON value"),
        };
        if ending != 0 {
            self.record(ending, Span { start: i, end });
        }
        Ok(end)
    }

    fn ending_at(&self, mask: u64, depth: usize) -> u64 {
        let mut ending = 0;
        let mut m = mask;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            if self.pointers[p].len() == depth {
                ending |= 1 << p;
            }
            m &= m - 1;
        }
        ending
    }

    fn object(&mut self, s: &[u8], open: usize, depth: usize, mask: u64) -> Result<usize, SyntaxError> {
        if depth >= MAX_DEPTH {
            return err(open, SyntaxErrorKind::TooDeep);
        }
        if self.keys.len() <= depth {
            self.keys.resize_with(depth + 1, Vec::new);
        }
        self.keys[depth].clear();
        let mut i = skip_ws(s, open + 1);
        if s.get(i) == Some(&b'}') {
            return Ok(i + 1);
        }
        loop {
            if s.get(i) != Some(&b'"') {
                return unexpected(s, i, "a string key");
            }
            let (key_end, escaped) = scan_string(s, i)?;
            let key_span = Span { start: i + 1, end: key_end - 1 };
            let text = if escaped {
                KeyText::Decoded(unescape(&s[key_span.start..key_span.end]))
            } else {
                KeyText::Raw(key_span)
            };
            let key = Key { offset: i, text };
            let this_key = key_bytes(s, &key);
            let seen = &self.keys[depth];
            if seen.len() < LINEAR_KEY_CHECK && seen.iter().any(|k| key_bytes(s, k) == this_key) {
                return err(i, SyntaxErrorKind::DuplicateKey(String::from_utf8_lossy(this_key).into_owned()));
            }
            let child = if mask == 0 { 0 } else { self.matching(mask, depth, this_key) };
            self.keys[depth].push(key);
            i = skip_ws(s, key_end);
            if s.get(i) != Some(&b':') {
                return unexpected(s, i, "':' after an object key");
            }
            i = skip_ws(s, i + 1);
            i = self.value(s, i, depth + 1, child)?;
            i = skip_ws(s, i);
            match s.get(i) {
                Some(b',') => i = skip_ws(s, i + 1),
                Some(b'}') => {
                    self.check_many_keys(s, depth)?;
                    return Ok(i + 1);
                }
                _ => return unexpected(s, i, "',' or '}' after an object member"),
            }
        }
    }

    fn check_many_keys(&mut self, s: &[u8], depth: usize) -> Result<(), SyntaxError> {
        let keys = &mut self.keys[depth];
        if keys.len() <= LINEAR_KEY_CHECK {
            return Ok(());
        }
        keys.sort_by(|a, b| key_bytes(s, a).cmp(key_bytes(s, b)).then(a.offset.cmp(&b.offset)));
        let duplicate = keys
            .windows(2)
            .filter(|w| key_bytes(s, &w[0]) == key_bytes(s, &w[1]))
            .map(|w| &w[1])
            .min_by_key(|k| k.offset);
        match duplicate {
            Some(k) => {
                err(k.offset, SyntaxErrorKind::DuplicateKey(String::from_utf8_lossy(key_bytes(s, k)).into_owned()))
            }
            None => Ok(()),
        }
    }

    fn array(&mut self, s: &[u8], open: usize, depth: usize, mask: u64) -> Result<usize, SyntaxError> {
        if depth >= MAX_DEPTH {
            return err(open, SyntaxErrorKind::TooDeep);
        }
        let mut i = skip_ws(s, open + 1);
        if s.get(i) == Some(&b']') {
            return Ok(i + 1);
        }
        let mut index = 0;
        loop {
            let child = if mask == 0 { 0 } else { self.matching_index(mask, depth, index) };
            i = self.value(s, i, depth + 1, child)?;
            i = skip_ws(s, i);
            match s.get(i) {
                Some(b',') => i = skip_ws(s, i + 1),
                Some(b']') => return Ok(i + 1),
                _ => return unexpected(s, i, "',' or ']' after an array element"),
            }
            index += 1;
        }
    }

    fn matching(&self, mask: u64, depth: usize, key: &[u8]) -> u64 {
        let mut child = 0;
        let mut m = mask;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            if self.pointers[p].segment(depth) == key {
                child |= 1 << p;
            }
            m &= m - 1;
        }
        child
    }

    fn matching_index(&self, mask: u64, depth: usize, index: usize) -> u64 {
        let mut child = 0;
        let mut m = mask;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            if self.pointers[p].matches_index(depth, index) {
                child |= 1 << p;
            }
            m &= m - 1;
        }
        child
    }
}

fn key_bytes<'a>(s: &'a [u8], key: &'a Key) -> &'a [u8] {
    match &key.text {
        KeyText::Raw(span) => &s[span.start..span.end],
        KeyText::Decoded(bytes) => bytes,
    }
}

#[inline]
pub fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = s.get(i) {
        i += 1;
    }
    i
}

fn literal(s: &[u8], i: usize, word: &[u8]) -> Result<usize, SyntaxError> {
    let end = i + word.len();
    if s.len() >= end && &s[i..end] == word {
        return Ok(end);
    }
    // A prefix of the word cut short by the end of the line is a truncation, not a typo.
    if s.len() < end && word.starts_with(&s[i..]) {
        return err(s.len(), SyntaxErrorKind::UnexpectedEnd);
    }
    unexpected(s, i, "a JSON value")
}

/// Scans a number; returns the offset past it and whether it is an integer literal.
pub fn scan_number(s: &[u8], start: usize) -> Result<(usize, bool), SyntaxError> {
    let mut i = start;
    if s.get(i) == Some(&b'-') {
        i += 1;
        if s[i..].starts_with(b"Infinity") {
            return err(start, SyntaxErrorKind::NonFinite("-Infinity"));
        }
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while let Some(b'0'..=b'9') = s.get(i) {
                i += 1;
            }
        }
        _ => return unexpected(s, i, "a digit"),
    }
    let mut integer = true;
    if s.get(i) == Some(&b'.') {
        integer = false;
        i += 1;
        if !matches!(s.get(i), Some(b'0'..=b'9')) {
            return unexpected(s, i, "a digit after the decimal point");
        }
        while let Some(b'0'..=b'9') = s.get(i) {
            i += 1;
        }
    }
    if let Some(b'e' | b'E') = s.get(i) {
        integer = false;
        i += 1;
        if let Some(b'+' | b'-') = s.get(i) {
            i += 1;
        }
        if !matches!(s.get(i), Some(b'0'..=b'9')) {
            return unexpected(s, i, "a digit in the exponent");
        }
        while let Some(b'0'..=b'9') = s.get(i) {
            i += 1;
        }
    }
    Ok((i, integer))
}

/// Scans the string starting at the quote `s[start]`; returns the offset past the closing
/// quote and whether it contains escapes.
pub fn scan_string(s: &[u8], start: usize) -> Result<(usize, bool), SyntaxError> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { simd::scan_string_avx2(s, start) };
        }
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe { simd::scan_string_sse2(s, start) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    scan_string_tail(s, start + 1, false)
}

/// What a byte that ends a run of plain string bytes means.
enum Special {
    /// The closing quote is at this offset.
    End(usize),
    /// An escape; the string goes on at this offset.
    Escape(usize),
}

/// Handles the special byte at `i` (a quote, a backslash or a control character).
#[inline(always)]
fn special(s: &[u8], i: usize) -> Result<Special, SyntaxError> {
    match s[i] {
        b'"' => Ok(Special::End(i)),
        b'\\' => match s.get(i + 1) {
            None => err(s.len(), SyntaxErrorKind::UnexpectedEnd),
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(Special::Escape(i + 2)),
            Some(b'u') => {
                for k in 0..4 {
                    match s.get(i + 2 + k) {
                        None => return err(s.len(), SyntaxErrorKind::UnexpectedEnd),
                        Some(c) if c.is_ascii_hexdigit() => {}
                        Some(_) => return unexpected(s, i + 2 + k, "4 hex digits after \\u"),
                    }
                }
                Ok(Special::Escape(i + 6))
            }
            Some(_) => unexpected(s, i + 1, "a valid escape after '\\'"),
        },
        _ => unexpected(s, i, "an escaped control character (raw ones are not allowed in strings)"),
    }
}

/// The byte-at-a-time scan, for the last bytes of a line (and for CPUs without SIMD here).
fn scan_string_tail(s: &[u8], mut i: usize, mut escaped: bool) -> Result<(usize, bool), SyntaxError> {
    while let Some(&b) = s.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            match special(s, i)? {
                Special::End(at) => return Ok((at + 1, escaped)),
                Special::Escape(next) => {
                    escaped = true;
                    i = next;
                }
            }
        } else {
            i += 1;
        }
    }
    err(s.len(), SyntaxErrorKind::UnexpectedEnd)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    //! Strings are most of a rollout's bytes (messages, code), so their scan is the hot loop:
    //! a block of 16 or 32 bytes is compared at once, and every quote, backslash or control
    //! character in a block is handled from its bit mask without reloading the block.
    use super::{scan_string_tail, special, Special, SyntaxError};
    use std::arch::x86_64::*;

    macro_rules! scan_blocks {
        ($s:ident, $start:ident, $width:expr, $mask:ident) => {{
            let s = $s;
            let mut i = $start + 1;
            let mut escaped = false;
            while i + $width <= s.len() {
                let mut bits: u32 = $mask(s.as_ptr().add(i));
                let mut next_block = i + $width;
                while bits != 0 {
                    let at = i + bits.trailing_zeros() as usize;
                    match special(s, at)? {
                        Special::End(end) => return Ok((end + 1, escaped)),
                        Special::Escape(next) => {
                            escaped = true;
                            let skip = next - i;
                            if skip >= $width {
                                next_block = next; // the escape runs past this block
                                bits = 0;
                            } else {
                                bits &= !((1u32 << skip) - 1);
                            }
                        }
                    }
                }
                i = next_block;
            }
            scan_string_tail(s, i, escaped)
        }};
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn scan_string_avx2(s: &[u8], start: usize) -> Result<(usize, bool), SyntaxError> {
        #[inline(always)]
        unsafe fn mask(p: *const u8) -> u32 {
            let v = _mm256_loadu_si256(p as *const __m256i);
            let control = _mm256_set1_epi8(0x1f);
            let hits = _mm256_or_si256(
                _mm256_or_si256(
                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)),
                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)),
                ),
                _mm256_cmpeq_epi8(_mm256_max_epu8(v, control), control),
            );
            _mm256_movemask_epi8(hits) as u32
        }
        scan_blocks!(s, start, 32, mask)
    }

    pub unsafe fn scan_string_sse2(s: &[u8], start: usize) -> Result<(usize, bool), SyntaxError> {
        #[inline(always)]
        unsafe fn mask(p: *const u8) -> u32 {
            let v = _mm_loadu_si128(p as *const __m128i);
            let control = _mm_set1_epi8(0x1f);
            let hits = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                ),
                _mm_cmpeq_epi8(_mm_max_epu8(v, control), control),
            );
            _mm_movemask_epi8(hits) as u32 & 0xffff
        }
        scan_blocks!(s, start, 16, mask)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sse2_and_avx2_agree_with_the_byte_scan() {
            let mut cases: Vec<String> = Vec::new();
            for pad in 0..70 {
                let a = "a".repeat(pad);
                cases.push(format!("\"{a}\\n{}\\u00e9{}\\\\\"", "b".repeat(pad % 33), "c".repeat(31)));
                cases.push(format!("\"{a}\\x\""));
                cases.push(format!("\"{a}\\u12"));
                cases.push(format!("\"{a}\t\""));
                cases.push(format!("\"{a}é\\\"{a}\""));
            }
            for case in cases {
                let s = case.as_bytes();
                let want = scan_string_tail(s, 1, false);
                assert_eq!(unsafe { scan_string_sse2(s, 0) }, want, "{case}");
                if std::arch::is_x86_feature_detected!("avx2") {
                    assert_eq!(unsafe { scan_string_avx2(s, 0) }, want, "{case}");
                }
            }
        }
    }
}

/// Decodes the escapes of a validated string body (the bytes between the quotes). Lone
/// surrogates, which JSON's `\u` syntax allows, become U+FFFD.
pub fn unescape(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let c = body[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'u' => None,
            other => Some(other),
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let unit = hex4(&body[i..i + 4]);
        i += 4;
        let code = if (0xD800..0xDC00).contains(&unit)
            && body.get(i) == Some(&b'\\')
            && body.get(i + 1) == Some(&b'u')
            && body.len() >= i + 6
        {
            let low = hex4(&body[i + 2..i + 6]);
            if (0xDC00..0xE000).contains(&low) {
                i += 6;
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            } else {
                0xFFFD
            }
        } else {
            unit
        };
        let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    out
}

fn hex4(h: &[u8]) -> u32 {
    h.iter().fold(0, |acc, &c| (acc << 4) | (c as char).to_digit(16).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<(), SyntaxErrorKind> {
        Parser::new(Vec::new()).parse(line.as_bytes()).map_err(|e| e.kind)
    }

    fn find(line: &str, ptr: &str) -> Option<String> {
        let mut p = Parser::new(vec![Pointer::parse(ptr).unwrap()]);
        p.parse(line.as_bytes()).unwrap();
        p.found(0).map(|s| line[s.start..s.end].to_owned())
    }

    #[test]
    fn accepts_valid_objects() {
        for line in [
            "{}",
            " { } ",
            r#"{"a":1,"b":[true,false,null,-0.5e+3,"x\"\\\/\b\f\n\r\t\u00e9"],"c":{"d":{}}}"#,
            "{\"é\": \"日本 🎉\"}",
            "{\"a\":\t[ ]\r}",
        ] {
            assert_eq!(parse(line), Ok(()), "{line}");
        }
    }

    #[test]
    fn rejects_each_malformation() {
        assert!(matches!(parse("[1]"), Err(SyntaxErrorKind::NotAnObject("an array"))));
        assert!(matches!(parse("3"), Err(SyntaxErrorKind::NotAnObject("a number"))));
        assert!(matches!(parse(r#"{"a":NaN}"#), Err(SyntaxErrorKind::NonFinite("NaN"))));
        assert!(matches!(parse(r#"{"a":-Infinity}"#), Err(SyntaxErrorKind::NonFinite("-Infinity"))));
        assert!(matches!(parse(r#"{"a":1,"a":2}"#), Err(SyntaxErrorKind::DuplicateKey(_))));
        assert!(matches!(parse(r#"{"a":{"b":1,"b":2}}"#), Err(SyntaxErrorKind::DuplicateKey(_))));
        assert!(matches!(parse(r#"{"a":1,"\u0061":2}"#), Err(SyntaxErrorKind::DuplicateKey(_))));
        assert!(matches!(parse(r#"{"a":"#), Err(SyntaxErrorKind::UnexpectedEnd)));
        assert!(matches!(parse(r#"{"a":tr"#), Err(SyntaxErrorKind::UnexpectedEnd)));
        assert!(matches!(parse(r#"{"a":"abc"#), Err(SyntaxErrorKind::UnexpectedEnd)));
        for bad in [
            r#"{"a":1,}"#,
            r#"{'a':1}"#,
            "{\"a\":\"\t\"}",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":1} x"#,
            r#"{"a":tru}"#,
        ] {
            assert!(matches!(parse(bad), Err(SyntaxErrorKind::Unexpected(_))), "{bad}");
        }
        let invalid_utf8 = b"{\"a\":\"\xff\"}";
        let e = Parser::new(Vec::new()).parse(invalid_utf8).unwrap_err();
        assert_eq!(e.kind, SyntaxErrorKind::InvalidUtf8);
        assert_eq!(e.offset, 6);
    }

    #[test]
    fn finds_duplicates_in_large_objects() {
        let members: Vec<String> = (0..100).map(|k| format!("\"k{k}\":{k}")).collect();
        let ok = format!("{{{}}}", members.join(","));
        assert_eq!(parse(&ok), Ok(()));
        let dup = format!("{{{},\"k50\":0,\"k7\":1}}", members.join(","));
        let e = Parser::new(Vec::new()).parse(dup.as_bytes()).unwrap_err();
        assert_eq!(e.kind, SyntaxErrorKind::DuplicateKey("k50".into()));
        assert_eq!(e.offset, dup.find("\"k50\":0").unwrap());
    }

    #[test]
    fn rejects_deep_nesting() {
        let line = format!("{{\"a\":{}{}}}", "[".repeat(300), "]".repeat(300));
        assert!(matches!(parse(&line), Err(SyntaxErrorKind::TooDeep)));
    }

    #[test]
    fn pointers_find_values() {
        let line = r#"{"info": {"puzzle_id": 7, "x": [1, {"y": "z"}]}, "a/b": 2, "e": {}}"#;
        assert_eq!(find(line, "/info/puzzle_id").as_deref(), Some("7"));
        assert_eq!(find(line, "/info/x/1/y").as_deref(), Some("\"z\""));
        assert_eq!(find(line, "/info/x/1").as_deref(), Some(r#"{"y": "z"}"#));
        assert_eq!(find(line, "/a~1b").as_deref(), Some("2"));
        assert_eq!(find(line, "/info/x/2"), None);
        assert_eq!(find(line, "/nope"), None);
        assert_eq!(find(line, "").as_deref(), Some(line));
    }

    #[test]
    fn long_strings_cross_simd_blocks() {
        let body = "abcdefghij".repeat(10) + "\\\"" + &"k".repeat(33);
        let line = format!("{{\"s\":\"{body}\"}}");
        assert_eq!(find(&line, "/s").unwrap(), format!("\"{body}\""));
        let with_tab = format!("{{\"s\":\"{}\t\"}}", "a".repeat(40));
        assert!(parse(&with_tab).is_err());
    }

    #[test]
    fn unescape_decodes_pairs_and_lone_surrogates() {
        assert_eq!(unescape(br#"a\n\u00e9\ud83c\udf89"#), "a\né🎉".as_bytes());
        assert_eq!(unescape(br#"\ud800x"#), "\u{FFFD}x".as_bytes());
    }
}
