//! Reading one scalar out of a validated value span: its kind, its key text (`str(x)`
//! semantics), its number, and comparisons for `filter`.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::parse::{scan_number, unescape};

/// A validated JSON value, seen without building it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// An integer literal (no fraction, no exponent), as written.
    Int(&'a [u8]),
    Float(f64),
    Str(Cow<'a, [u8]>),
    Object,
    Array,
}

impl<'a> Value<'a> {
    /// Reads the value held by `bytes`, which the parser has validated.
    pub fn of(bytes: &'a [u8]) -> Value<'a> {
        match bytes[0] {
            b'n' => Value::Null,
            b't' => Value::Bool(true),
            b'f' => Value::Bool(false),
            b'{' => Value::Object,
            b'[' => Value::Array,
            b'"' => {
                let body = &bytes[1..bytes.len() - 1];
                if body.contains(&b'\\') {
                    Value::Str(Cow::Owned(unescape(body)))
                } else {
                    Value::Str(Cow::Borrowed(body))
                }
            }
            _ => {
                let integer = scan_number(bytes, 0).map(|(_, int)| int).unwrap_or(false);
                if integer {
                    Value::Int(bytes)
                } else {
                    Value::Float(parse_f64(bytes))
                }
            }
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Object => "an object",
            Value::Array => "an array",
        }
    }

    /// The number this value holds, if it is one (booleans are not numbers here).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(text) => Some(parse_f64(text)),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

fn parse_f64(text: &[u8]) -> f64 {
    // Validated JSON numbers are ASCII and a subset of Rust's float syntax.
    std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()).unwrap_or(f64::NAN)
}

/// The grouping key of a value, as Python's `str()` of the parsed value; `Ok(None)` for null,
/// `Err(type name)` for objects and arrays.
pub fn key_text<'a>(value: &Value<'a>) -> Result<Option<Cow<'a, [u8]>>, &'static str> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Bool(true) => Cow::Borrowed(b"True"),
        Value::Bool(false) => Cow::Borrowed(b"False"),
        Value::Int(text) => {
            if text.iter().skip(1).all(|&b| b == b'0') && text.starts_with(b"-") {
                Cow::Borrowed(b"0") // -0 is the integer 0
            } else {
                Cow::Borrowed(*text)
            }
        }
        Value::Float(f) => Cow::Owned(python_float_repr(*f).into_bytes()),
        Value::Str(text) => text.clone(),
        Value::Object | Value::Array => return Err(value.type_name()),
    }))
}

/// Python's `repr(float)`: the shortest round-tripping digits, in positional notation for
/// decimal exponents -4..16 and scientific notation (`1e-05`, `1.5e+20`) outside.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` prints the same shortest round-trip digits, always in scientific form.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if x < 0.0 {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

/// A constant that `filter` compares record values with.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Vec<u8>),
}

/// Whether a record value equals an operand: numbers numerically (exactly, across integers
/// and floats, as Python compares them), booleans only with booleans.
pub fn equals(value: &Value<'_>, operand: &Operand) -> bool {
    match (value, operand) {
        (Value::Null, Operand::Null) => true,
        (Value::Bool(a), Operand::Bool(b)) => a == b,
        (Value::Str(a), Operand::Str(b)) => a.as_ref() == b.as_slice(),
        (Value::Int(_) | Value::Float(_), Operand::Int(_) | Operand::Float(_)) => {
            compare(value, operand) == Some(Ordering::Equal)
        }
        _ => false,
    }
}

/// Orders a record value against an operand when both are numbers or both strings.
pub fn compare(value: &Value<'_>, operand: &Operand) -> Option<Ordering> {
    match (value, operand) {
        (Value::Str(a), Operand::Str(b)) => Some(a.as_ref().cmp(b.as_slice())),
        (Value::Int(text), operand) => match int_of(text) {
            Some(i) => match operand {
                Operand::Int(j) => Some(i.cmp(j)),
                Operand::Float(f) => Some(cmp_int_float(i, *f)),
                _ => None,
            },
            // Beyond i128: no operand can be that large except a float.
            None => value.as_f64().and_then(|v| compare_float(v, operand)),
        },
        (Value::Float(v), operand) => compare_float(*v, operand),
        _ => None,
    }
}

fn compare_float(v: f64, operand: &Operand) -> Option<Ordering> {
    match operand {
        Operand::Float(f) => v.partial_cmp(f),
        Operand::Int(i) => Some(cmp_int_float(*i, v).reverse()),
        _ => None,
    }
}

pub fn int_of(text: &[u8]) -> Option<i128> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Exact comparison of an integer with a float, as Python does it.
pub fn cmp_int_float(i: i128, f: f64) -> Ordering {
    const LIMIT: f64 = 1.7014118346046923e38; // 2^127
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f < -LIMIT {
        return Ordering::Greater;
    }
    let t = f.trunc();
    match i.cmp(&(t as i128)) {
        Ordering::Equal if f > t => Ordering::Less,
        Ordering::Equal if f < t => Ordering::Greater,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(json: &str) -> Result<Option<String>, &'static str> {
        key_text(&Value::of(json.as_bytes())).map(|k| k.map(|k| String::from_utf8(k.into_owned()).unwrap()))
    }

    #[test]
    fn keys_follow_python_str() {
        assert_eq!(key("7").unwrap().as_deref(), Some("7"));
        assert_eq!(key("\"7\"").unwrap().as_deref(), Some("7"));
        assert_eq!(key("-0").unwrap().as_deref(), Some("0"));
        assert_eq!(key("-10").unwrap().as_deref(), Some("-10"));
        assert_eq!(key("123456789012345678901234567890").unwrap().as_deref(), Some("123456789012345678901234567890"));
        assert_eq!(key("1.0").unwrap().as_deref(), Some("1.0"));
        assert_eq!(key("1e2").unwrap().as_deref(), Some("100.0"));
        assert_eq!(key("1.5e20").unwrap().as_deref(), Some("1.5e+20"));
        assert_eq!(key("1e-5").unwrap().as_deref(), Some("1e-05"));
        assert_eq!(key("-0.0").unwrap().as_deref(), Some("-0.0"));
        assert_eq!(key("1e999").unwrap().as_deref(), Some("inf"));
        assert_eq!(key("true").unwrap().as_deref(), Some("True"));
        assert_eq!(key("\"a\\u00e9\"").unwrap().as_deref(), Some("aé"));
        assert_eq!(key("null").unwrap(), None);
        assert_eq!(key("{}"), Err("an object"));
        assert_eq!(key("[1]"), Err("an array"));
    }

    #[test]
    fn float_repr_matches_python() {
        for (x, repr) in [
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123.456, "123.456"),
            (-2.5e-7, "-2.5e-07"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(python_float_repr(x), repr);
        }
    }

    #[test]
    fn comparisons_are_exact_across_ints_and_floats() {
        let big = Value::of(b"9007199254740993");
        assert!(!equals(&big, &Operand::Float(9007199254740992.0)));
        assert!(equals(&big, &Operand::Int(9007199254740993)));
        assert!(equals(&Value::of(b"1"), &Operand::Float(1.0)));
        assert!(equals(&Value::of(b"1.0"), &Operand::Int(1)));
        assert!(!equals(&Value::of(b"true"), &Operand::Int(1)));
        assert_eq!(compare(&Value::of(b"2"), &Operand::Float(2.5)), Some(Ordering::Less));
        assert_eq!(compare(&Value::of(b"-3"), &Operand::Float(-3.5)), Some(Ordering::Greater));
        assert_eq!(compare(&Value::of(b"\"b\""), &Operand::Str(b"a".to_vec())), Some(Ordering::Greater));
        assert_eq!(compare(&Value::of(b"\"b\""), &Operand::Int(1)), None);
        assert_eq!(compare(&Value::of(b"null"), &Operand::Int(1)), None);
    }
}
