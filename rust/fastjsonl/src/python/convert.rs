//! Building Python objects straight from validated JSON bytes, for `read`.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};

use crate::lookup::skip_value;
use crate::parse::{scan_number, scan_string, skip_ws, unescape};

/// Object keys repeat on every record; building each once saves most of the string work.
pub struct KeyCache<'py> {
    keys: HashMap<Vec<u8>, Bound<'py, PyString>>,
    /// Short string values, for columns: a field repeats a few values (statuses, reasons) on
    /// every record.
    strings: HashMap<Vec<u8>, Bound<'py, PyString>>,
    int_type: Option<Bound<'py, PyAny>>,
}

const MAX_CACHED_KEYS: usize = 4096;
const MAX_CACHED_KEY_LEN: usize = 64;

impl<'py> KeyCache<'py> {
    pub fn new() -> KeyCache<'py> {
        KeyCache { keys: HashMap::new(), strings: HashMap::new(), int_type: None }
    }

    fn key(&mut self, py: Python<'py>, raw: &[u8]) -> Bound<'py, PyString> {
        if raw.len() > MAX_CACHED_KEY_LEN || raw.contains(&b'\\') {
            return string(py, raw);
        }
        if let Some(k) = self.keys.get(raw) {
            return k.clone();
        }
        let k = PyString::intern(py, as_str(raw));
        if self.keys.len() < MAX_CACHED_KEYS {
            self.keys.insert(raw.to_vec(), k.clone());
        }
        k
    }
}

/// The Python object for the validated value `s`, a short string made once per cache.
pub fn column_value<'py>(py: Python<'py>, s: &[u8], cache: &mut KeyCache<'py>) -> PyResult<Bound<'py, PyAny>> {
    if s.first() != Some(&b'"') || s.len() > MAX_CACHED_KEY_LEN + 2 {
        return value(py, s, 0, cache);
    }
    let raw = &s[1..s.len() - 1];
    if let Some(v) = cache.strings.get(raw) {
        return Ok(v.clone().into_any());
    }
    let v = string(py, raw);
    if cache.strings.len() < MAX_CACHED_KEYS {
        cache.strings.insert(raw.to_vec(), v.clone());
    }
    Ok(v.into_any())
}

fn as_str(bytes: &[u8]) -> &str {
    // The parser validated the whole line as UTF-8 before anything reaches this module.
    std::str::from_utf8(bytes).expect("validated UTF-8")
}

/// A string body (between the quotes) as a Python str.
fn string<'py>(py: Python<'py>, raw: &[u8]) -> Bound<'py, PyString> {
    if raw.contains(&b'\\') {
        PyString::new(py, &String::from_utf8_lossy(&unescape(raw)))
    } else {
        PyString::new(py, as_str(raw))
    }
}

/// The Python object for the validated value at `s[i..]`.
pub fn value<'py>(py: Python<'py>, s: &[u8], i: usize, cache: &mut KeyCache<'py>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match s[i] {
        b'{' => {
            let dict = PyDict::new(py);
            let mut j = skip_ws(s, i + 1);
            while s[j] == b'"' {
                let key_end = scan_string(s, j).map(|(e, _)| e).unwrap_or(s.len());
                let key = cache.key(py, &s[j + 1..key_end - 1]);
                j = skip_ws(s, skip_ws(s, key_end) + 1);
                dict.set_item(key, value(py, s, j, cache)?)?;
                j = skip_ws(s, skip_value(s, j));
                if s[j] == b',' {
                    j = skip_ws(s, j + 1);
                }
            }
            dict.into_any()
        }
        b'[' => {
            let mut items = Vec::new();
            let mut j = skip_ws(s, i + 1);
            while s[j] != b']' {
                items.push(value(py, s, j, cache)?);
                j = skip_ws(s, skip_value(s, j));
                if s[j] == b',' {
                    j = skip_ws(s, j + 1);
                }
            }
            PyList::new(py, items)?.into_any()
        }
        b'"' => {
            let end = scan_string(s, i).map(|(e, _)| e).unwrap_or(s.len());
            string(py, &s[i + 1..end - 1]).into_any()
        }
        b't' => PyBool::new(py, true).to_owned().into_any(),
        b'f' => PyBool::new(py, false).to_owned().into_any(),
        b'n' => py.None().into_bound(py),
        _ => {
            let (end, integer) = scan_number(s, i).unwrap_or((s.len(), false));
            let text = as_str(&s[i..end]);
            if integer {
                match text.parse::<i64>() {
                    Ok(n) => n.into_pyobject(py)?.into_any(),
                    Err(_) => {
                        let int_type = match &cache.int_type {
                            Some(t) => t.clone(),
                            None => py.import("builtins")?.getattr("int")?,
                        };
                        cache.int_type = Some(int_type.clone());
                        int_type.call1((text,))?
                    }
                }
            } else {
                PyFloat::new(py, text.parse::<f64>().unwrap_or(f64::NAN)).into_any()
            }
        }
    })
}
