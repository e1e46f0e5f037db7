//! The PyO3 layer: argument conversion, the GIL released around all file work, and reports
//! returned as plain dicts that `harness.jsonl` wraps in typed dataclasses.

mod convert;

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::chunks::{Chunk, ChunkStream};
use crate::columns::{
    columns as columns_core, columns_at as columns_at_core, words as count_words, Cell, Field, FileColumns,
};
use crate::count::count_by as count_by_core;
use crate::dedup::{dedup as dedup_core, DedupSpec, Keep, Missing};
use crate::error::{Error, LineError};
use crate::filter::{filter as filter_core, Condition, Op};
use crate::keys::ScoreSpec;
use crate::parse::{Parser, Span};
use crate::pipeline::{ChunkTally, OnError, Options, Totals};
use crate::pointer::Pointer;
use crate::records::{records, Record};
use crate::scan::scan as scan_core;
use crate::split::{split as split_core, SplitSpec};
use crate::value::Operand;

create_exception!(
    _fastjsonl,
    JsonlError,
    PyValueError,
    "A malformed JSONL line, with path, line, column, byte_offset, reason and snippet."
);

fn line_error(py: Python<'_>, e: &LineError) -> PyErr {
    let err = JsonlError::new_err(e.to_string());
    let value = err.value(py);
    let attrs: [(&str, Bound<'_, PyAny>); 7] = [
        ("path", PyString::new(py, &e.path).into_any()),
        // the whole line: harness.errors.LocatedError's field for a line that is not JSON
        ("field", PyString::new(py, "").into_any()),
        ("line", e.line.into_pyobject(py).expect("int").into_any()),
        ("column", e.column.into_pyobject(py).expect("int").into_any()),
        ("byte_offset", e.byte_offset.into_pyobject(py).expect("int").into_any()),
        ("reason", PyString::new(py, &e.reason).into_any()),
        ("snippet", PyString::new(py, &e.snippet).into_any()),
    ];
    for (name, v) in attrs {
        value.setattr(name, v).expect("exceptions accept attributes");
    }
    err
}

fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    match e {
        Error::Malformed(line) => line_error(py, &line),
        Error::Usage(msg) => PyValueError::new_err(msg),
        Error::Io { path, source } => {
            let path = path.display().to_string();
            // OSError(errno, strerror, filename) picks the subclass (FileNotFoundError, …).
            match source.raw_os_error() {
                Some(errno) => PyOSError::new_err((errno, source.to_string(), path)),
                None => PyOSError::new_err(format!("{path}: {source}")),
            }
        }
    }
}

fn pointer(text: &str) -> PyResult<Pointer> {
    Pointer::parse(text).map_err(PyValueError::new_err)
}

fn options(errors: &str, threads: usize, max_errors: usize) -> PyResult<Options> {
    let on_error = OnError::parse(errors).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(Options { threads, on_error, max_errors, ..Options::default() })
}

/// `options` for an operation that writes an output.
fn output_options(errors: &str, threads: usize, max_errors: usize, allow_empty: bool) -> PyResult<Options> {
    Ok(Options { allow_empty, ..options(errors, threads, max_errors)? })
}

fn errors_list<'py>(py: Python<'py>, errors: &[LineError]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, errors.iter().map(|e| line_error(py, e).value(py).clone()))
}

fn report<'py>(py: Python<'py>, fields: &[(&str, u64)], errors: &[LineError]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in fields {
        d.set_item(k, v)?;
    }
    d.set_item("errors", errors_list(py, errors)?)?;
    Ok(d)
}

/// A Python constant as a filter operand.
fn operand(value: &Bound<'_, PyAny>) -> PyResult<Operand> {
    if value.is_none() {
        Ok(Operand::Null)
    } else if let Ok(b) = value.cast::<PyBool>() {
        Ok(Operand::Bool(b.is_true()))
    } else if value.cast::<PyInt>().is_ok() {
        let i: i128 =
            value.extract().map_err(|_| PyValueError::new_err("integers in conditions must fit in 128 bits"))?;
        Ok(Operand::Int(i))
    } else if let Ok(f) = value.cast::<PyFloat>() {
        Ok(Operand::Float(f.value()))
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(Operand::Str(s.to_str()?.as_bytes().to_vec()))
    } else {
        Err(PyValueError::new_err(format!(
            "condition values must be None, bool, int, float or str, not {}",
            value.get_type().name()?
        )))
    }
}

#[pyfunction]
#[pyo3(signature = (paths, threads=0, max_errors=1000))]
fn scan<'py>(py: Python<'py>, paths: Vec<PathBuf>, threads: usize, max_errors: usize) -> PyResult<Bound<'py, PyDict>> {
    let opts = options("collect", threads, max_errors)?;
    let r = py.detach(|| scan_core(&paths, &opts)).map_err(|e| to_py_err(py, e))?;
    let files = PyList::empty(py);
    for f in &r.files {
        let d = PyDict::new(py);
        d.set_item("path", f.path.display().to_string())?;
        d.set_item("records", f.records)?;
        d.set_item("bytes", f.bytes)?;
        d.set_item("blank_lines", f.blank_lines)?;
        d.set_item("malformed", f.malformed)?;
        d.set_item("bom", f.bom)?;
        d.set_item("crlf_lines", f.crlf_lines)?;
        files.append(d)?;
    }
    let d = report(
        py,
        &[("records", r.records), ("bytes", r.bytes), ("blank_lines", r.blank_lines), ("malformed", r.malformed)],
        &r.errors,
    )?;
    d.set_item("files", files)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (inputs, output, key, scores, keep, missing, errors, threads=0, max_errors=1000, allow_empty=true))]
#[allow(clippy::too_many_arguments)]
fn dedup<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    key: &str,
    scores: Vec<String>,
    keep: &str,
    missing: &str,
    errors: &str,
    threads: usize,
    max_errors: usize,
    allow_empty: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let keep = match keep {
        "best" => Keep::Best,
        "first" => Keep::First,
        "last" => Keep::Last,
        other => return Err(PyValueError::new_err(format!("keep must be 'best', 'first' or 'last', not {other:?}"))),
    };
    let spec = DedupSpec {
        key: pointer(key)?,
        scores: scores.iter().map(|s| ScoreSpec::parse(s)).collect::<Result<_, _>>().map_err(PyValueError::new_err)?,
        keep,
        missing: missing_policy(missing, true)?,
    };
    let opts = output_options(errors, threads, max_errors, allow_empty)?;
    let r = py.detach(|| dedup_core(&inputs, &output, &spec, &opts)).map_err(|e| to_py_err(py, e))?;
    report(
        py,
        &[
            ("records", r.records),
            ("bytes", r.bytes),
            ("written", r.written),
            ("unique_keys", r.unique_keys),
            ("missing", r.missing),
            ("malformed", r.malformed),
        ],
        &r.errors,
    )
}

fn missing_policy(text: &str, keep_allowed: bool) -> PyResult<Missing> {
    match text {
        "error" => Ok(Missing::Error),
        "skip" => Ok(Missing::Skip),
        "keep" if keep_allowed => Ok(Missing::Keep),
        other => Err(PyValueError::new_err(format!(
            "missing must be {}, not {other:?}",
            if keep_allowed { "'error', 'skip' or 'keep'" } else { "'error' or 'skip'" }
        ))),
    }
}

#[pyfunction]
#[pyo3(signature = (inputs, output, steps, on_pointer, on_value, carry, keep_empty, missing, errors, threads=0, max_errors=1000, allow_empty=true))]
#[allow(clippy::too_many_arguments)]
fn split<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    steps: &str,
    on_pointer: &str,
    on_value: Bound<'py, PyAny>,
    carry: Vec<(String, String)>,
    keep_empty: bool,
    missing: &str,
    errors: &str,
    threads: usize,
    max_errors: usize,
    allow_empty: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let spec = SplitSpec {
        steps: pointer(steps)?,
        on: pointer(on_pointer)?,
        on_value: operand(&on_value)?,
        carry: carry.iter().map(|(n, p)| Ok((n.clone(), pointer(p)?))).collect::<PyResult<_>>()?,
        keep_empty,
        missing: missing_policy(missing, false)?,
    };
    let opts = output_options(errors, threads, max_errors, allow_empty)?;
    let r = py.detach(|| split_core(&inputs, &output, &spec, &opts)).map_err(|e| to_py_err(py, e))?;
    report(
        py,
        &[
            ("records", r.records),
            ("bytes", r.bytes),
            ("written", r.written),
            ("missing", r.missing),
            ("malformed", r.malformed),
        ],
        &r.errors,
    )
}

#[pyfunction]
#[pyo3(signature = (inputs, output, conditions, errors, threads=0, max_errors=1000, allow_empty=true))]
#[allow(clippy::too_many_arguments)]
fn filter<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    conditions: Vec<(String, String, Bound<'py, PyAny>)>,
    errors: &str,
    threads: usize,
    max_errors: usize,
    allow_empty: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let mut parsed = Vec::with_capacity(conditions.len());
    for (ptr, op, value) in &conditions {
        let op = Op::parse(op).map_err(|e| to_py_err(py, e))?;
        let operands = match op {
            Op::In | Op::NotIn => {
                let items = value.try_iter().map_err(|_| {
                    PyValueError::new_err(format!(
                        "the value of an '{}' condition must be a list",
                        if op == Op::In { "in" } else { "not in" }
                    ))
                })?;
                items.map(|item| operand(&item?)).collect::<PyResult<Vec<_>>>()?
            }
            Op::Exists | Op::Missing => Vec::new(),
            _ => vec![operand(value)?],
        };
        parsed.push(Condition { pointer: pointer(ptr)?, op, operands });
    }
    let opts = output_options(errors, threads, max_errors, allow_empty)?;
    let r = py.detach(|| filter_core(&inputs, &output, &parsed, &opts)).map_err(|e| to_py_err(py, e))?;
    report(
        py,
        &[("records", r.records), ("bytes", r.bytes), ("written", r.written), ("malformed", r.malformed)],
        &r.errors,
    )
}

#[pyfunction]
#[pyo3(signature = (inputs, key, errors, threads=0, max_errors=1000))]
fn count_by<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    key: &str,
    errors: &str,
    threads: usize,
    max_errors: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let key = pointer(key)?;
    let opts = options(errors, threads, max_errors)?;
    let r = py.detach(|| count_by_core(&inputs, &key, &opts)).map_err(|e| to_py_err(py, e))?;
    let counts = PyList::empty(py);
    for (k, n) in &r.counts {
        let k = k.as_ref().map(|k| String::from_utf8_lossy(k).into_owned());
        counts.append((k, n))?;
    }
    let d = report(py, &[("records", r.records), ("bytes", r.bytes), ("malformed", r.malformed)], &r.errors)?;
    d.set_item("counts", counts)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (paths, fields, errors, threads=0, max_errors=1000))]
fn columns<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    fields: Vec<String>,
    errors: &str,
    threads: usize,
    max_errors: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let parsed =
        fields.iter().map(|f| Field::parse(f)).collect::<Result<Vec<_>, _>>().map_err(PyValueError::new_err)?;
    let opts = options(errors, threads, max_errors)?;
    let r = py.detach(|| columns_core(&paths, &parsed, &opts)).map_err(|e| to_py_err(py, e))?;
    let mut cache = convert::KeyCache::new();
    let files = PyList::empty(py);
    for f in &r.files {
        files.append(file_columns(py, f, &fields, &vec![false; fields.len()], &mut cache)?)?;
    }
    let d = report(py, &[("records", r.records), ("bytes", r.bytes), ("malformed", r.malformed)], &r.errors)?;
    d.set_item("files", files)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (path, places, fields, words=Vec::new()))]
fn columns_at<'py>(
    py: Python<'py>,
    path: PathBuf,
    places: Vec<(u64, u64)>,
    fields: Vec<String>,
    words: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some(w) = words.iter().find(|w| !fields.contains(w)) {
        return Err(PyValueError::new_err(format!("words: {w:?} is not one of the fields")));
    }
    let parsed =
        fields.iter().map(|f| Field::parse(f)).collect::<Result<Vec<_>, _>>().map_err(PyValueError::new_err)?;
    let found = py.detach(|| columns_at_core(&path, &places, &parsed)).map_err(|e| to_py_err(py, e))?;
    let counted: Vec<bool> = fields.iter().map(|f| words.contains(f)).collect();
    file_columns(py, &found, &fields, &counted, &mut convert::KeyCache::new())
}

/// The dict of `f`'s columns; a field marked in `words` has the number of words of each string
/// value (`columns::words`) instead of the string, and None for any other value.
fn file_columns<'py>(
    py: Python<'py>,
    f: &FileColumns,
    fields: &[String],
    words: &[bool],
    cache: &mut convert::KeyCache<'py>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("path", f.path.display().to_string())?;
    d.set_item("line", PyList::new(py, &f.lines)?)?;
    d.set_item("offset", PyList::new(py, &f.offsets)?)?;
    d.set_item("length", PyList::new(py, &f.lengths)?)?;
    let values = PyDict::new(py);
    for ((name, cells), &counted) in fields.iter().zip(&f.cells).zip(words) {
        let value = |span: &Span, cache: &mut convert::KeyCache<'py>| {
            let text = &f.values[span.start..span.end];
            if counted {
                Ok(count_words(text).into_pyobject(py)?.into_any())
            } else {
                convert::column_value(py, text, cache)
            }
        };
        let mut column = Vec::with_capacity(cells.len());
        for cell in cells {
            column.push(match cell {
                Cell::Missing => py.None().into_bound(py),
                Cell::One(span) => value(span, cache)?,
                Cell::Each(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        list.push(match item {
                            Some(span) => value(span, cache)?,
                            None => py.None().into_bound(py),
                        });
                    }
                    PyList::new(py, list)?.into_any()
                }
            });
        }
        values.set_item(name, PyList::new(py, column)?)?;
    }
    d.set_item("values", values)?;
    Ok(d)
}

type Parsed = Result<(Chunk, Vec<Record>, ChunkTally), Error>;

/// Iterates records in batches. A background thread reads and validates chunks ahead; each
/// `next_batch` call turns up to `batch_size` records into Python objects.
#[pyclass(module = "harness._fastjsonl")]
struct Reader {
    // A Mutex only to make the class Sync; `&mut self` already serialises every call.
    parsed: Mutex<Receiver<Parsed>>,
    state: ReaderState,
    paths: Vec<PathBuf>,
    field_names: Vec<String>,
    locations: bool,
    batch_size: usize,
    options: Options,
}

#[derive(Default)]
struct ReaderState {
    current: Option<(Chunk, Vec<Record>, usize, u64)>,
    totals: Totals,
    /// A malformed line met in `raise` mode, raised once the records before it are out.
    pending: Option<Error>,
    done: bool,
}

#[pymethods]
impl Reader {
    #[new]
    #[pyo3(signature = (paths, fields, errors, locations, batch_size, max_errors=1000))]
    fn new(
        paths: Vec<PathBuf>,
        fields: Option<Vec<String>>,
        errors: &str,
        locations: bool,
        batch_size: usize,
        max_errors: usize,
        py: Python<'_>,
    ) -> PyResult<Reader> {
        let options = options(errors, 1, max_errors)?;
        let field_names = fields.unwrap_or_default();
        let pointers = field_names
            .iter()
            .map(|f| {
                if f.starts_with('/') || f.is_empty() {
                    pointer(f)
                } else {
                    Ok(Pointer::parse(&format!("/{}", f.replace('~', "~0").replace('/', "~1"))).expect("escaped"))
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
        if pointers.len() > crate::parse::MAX_POINTERS {
            return Err(PyValueError::new_err(format!("at most {} fields", crate::parse::MAX_POINTERS)));
        }
        let stream = ChunkStream::open(&paths, options.chunk_size, 2).map_err(|e| to_py_err(py, e))?;
        let paths = stream.paths().to_vec(); // as errors name them: `-` is `<stdin>`
        let (tx, rx) = mpsc::sync_channel::<Parsed>(2);
        let worker_options = options.clone();
        std::thread::Builder::new()
            .name("fastjsonl-read".into())
            .spawn(move || {
                let mut parser = Parser::new(pointers);
                for chunk in stream {
                    let item = chunk.map(|chunk| {
                        let (recs, tally) = records(&chunk, &mut parser, &worker_options);
                        (chunk, recs, tally)
                    });
                    let stop = item.is_err();
                    if tx.send(item).is_err() || stop {
                        return;
                    }
                }
            })
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Reader {
            parsed: Mutex::new(rx),
            state: ReaderState::default(),
            paths,
            field_names,
            locations,
            batch_size: batch_size.max(1),
            options,
        })
    }

    /// The next records (at most `batch_size`), or None at the end.
    fn next_batch<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        loop {
            let state = &mut self.state;
            if let Some((chunk, recs, pos, lines_before)) = state.current.as_mut() {
                if *pos < recs.len() {
                    let end = (*pos + self.batch_size).min(recs.len());
                    let view = View { paths: &self.paths, field_names: &self.field_names, locations: self.locations };
                    let batch = convert_records(py, &view, chunk, &recs[*pos..end], *lines_before)?;
                    *pos = end;
                    return Ok(Some(batch));
                }
                state.current = None;
            }
            if let Some(e) = state.pending.take() {
                state.done = true;
                return Err(to_py_err(py, e));
            }
            if state.done {
                return Ok(None);
            }
            let parsed = &self.parsed;
            let next = py.detach(|| parsed.lock().expect("reader lock").recv().ok());
            let Some(item) = next else {
                state.done = true;
                return Ok(None);
            };
            let (chunk, mut recs, tally) = item.map_err(|e| to_py_err(py, e))?;
            let lines_before = state.totals.lines_before(&chunk);
            let first_problem = tally.problems.first().map(|p| p.line_in_chunk);
            if let Err(e) = state.totals.add(&chunk, tally, &self.paths, &self.options) {
                // Raise mode: hand out the records before the bad line first.
                let bad = first_problem.unwrap_or(0);
                recs.retain(|r| r.line_in_chunk < bad);
                state.pending = Some(e);
            }
            state.current = Some((chunk, recs, 0, lines_before));
        }
    }

    #[getter]
    fn malformed(&self) -> u64 {
        self.state.totals.malformed
    }

    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        errors_list(py, &self.state.totals.errors)
    }
}

/// What converting records needs to know of the reader.
struct View<'a> {
    paths: &'a [PathBuf],
    field_names: &'a [String],
    locations: bool,
}

fn convert_records<'py>(
    py: Python<'py>,
    view: &View<'_>,
    chunk: &Chunk,
    recs: &[Record],
    lines_before: u64,
) -> PyResult<Bound<'py, PyList>> {
    let data = chunk.data();
    let mut cache = convert::KeyCache::new();
    let path = PyString::new(py, &view.paths[chunk.file].display().to_string());
    let mut out = Vec::with_capacity(recs.len());
    for r in recs {
        let line = &data[r.span.start..r.span.end];
        let record = if view.field_names.is_empty() {
            convert::value(py, line, crate::parse::skip_ws(line, 0), &mut cache)?
        } else {
            let d = PyDict::new(py);
            for (name, span) in view.field_names.iter().zip(&r.fields) {
                if let Some(span) = span {
                    d.set_item(name, convert::value(py, line, span.start, &mut cache)?)?;
                }
            }
            d.into_any()
        };
        out.push(if view.locations {
            let line_no = lines_before + r.line_in_chunk + 1;
            PyTuple::new(py, [path.clone().into_any(), line_no.into_pyobject(py)?.into_any(), record])?.into_any()
        } else {
            record
        });
    }
    PyList::new(py, out)
}

#[pymodule]
fn _fastjsonl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("JsonlError", m.py().get_type::<JsonlError>())?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(dedup, m)?)?;
    m.add_function(wrap_pyfunction!(split, m)?)?;
    m.add_function(wrap_pyfunction!(filter, m)?)?;
    m.add_function(wrap_pyfunction!(count_by, m)?)?;
    m.add_function(wrap_pyfunction!(columns, m)?)?;
    m.add_function(wrap_pyfunction!(columns_at, m)?)?;
    m.add_class::<Reader>()?;
    Ok(())
}
