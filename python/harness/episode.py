"""The episode record: the one JSON shape of a rollout.

Every part of the harness reads and writes this record: the rollout engine writes it, verifiers
add verdicts to it, doctoring derives new episodes from it (with a `parent` link), formatters
turn it into training data. It is stored one episode per line (JSONL) and published as a JSON
Schema (`docs/episode.schema.json`, generated from these models by `write_schema`).

The shape, in short::

    Episode
      schema_version, episode_id          which format, which rollout
      env {name, version, args}           what produced it
      task {id, split, data}              what it was about
      model {name, backend}, sampling     who answered, and how it was sampled
      seed, sample_index                  which of the n samples of this task
      prompt [Message]                    the conversation before the model's first action
      steps [Step]                        one per model turn: action, observation, status,
                                          reward, done, usage, tokens, info
      reward, reward_components           the final score and what it is made of
      outcome {done, reason, success}     how it ended
      verification [Verdict]              what the verifiers said
      usage {prompt_tokens, completion_tokens}
      error {type, message, traceback}    set when the episode failed
      parent {episode_id, steps_kept, reason}   set on doctored episodes
      provenance {harness_version, plugins, created_at, host, run_id}
      info {}                             free-form, env-specific

Conventions: names are snake_case, one name per concept; fixed-shape objects reject unknown
keys (a typo is an error, not a silently ignored field); free-form places (`args`, `data`,
`info`, `details`, `extra`) are plain JSON objects. Fields that are `None` are left out when
writing (`to_json_line`), so *absent* and `null` mean the same thing when reading. Validation
is strict (no coercion: `"1"` is not a number, `"yes"` is not a boolean), so the pydantic models
and the JSON Schema accept the same records.

`harness.jsonl` is imported lazily (inside `load_episodes`), never at import time.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import types
import typing
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from harness.atomic import atomic_write
from harness.errors import LocatedError
from harness.pointer import escape
from harness.pointer import parts as pointer_parts

__all__ = [
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "Env",
    "Episode",
    "EpisodeError",
    "EpisodeLoader",
    "ErrorInfo",
    "Message",
    "ModelSpec",
    "Outcome",
    "Parent",
    "Provenance",
    "Sampling",
    "Step",
    "StepStatus",
    "Task",
    "Tokens",
    "Usage",
    "Verdict",
    "episode_json_schema",
    "load_episodes",
    "make_episode_id",
    "utc_now",
    "validate_episode",
    "write_episodes",
    "write_schema",
]

SCHEMA_VERSION: Final = "1"
"""Version of the record's shape. Bumped on any change that an old reader would misread."""

SCHEMA_ID = f"urn:rollout-harness:schema:episode:v{SCHEMA_VERSION}"
"""`$id` of the published JSON Schema."""


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


class _Record(BaseModel):
    """Base of every fixed-shape object: unknown keys are errors, no type coercion, finite floats."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )


def _check_iso_timestamp(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected an ISO 8601 timestamp such as 2025-01-31T12:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone (Z or +hh:mm)")
    return value


IsoTimestamp = Annotated[
    str, AfterValidator(_check_iso_timestamp), Field(json_schema_extra={"format": "date-time"})
]
"""An ISO 8601 timestamp with a time zone, kept as the string that was written."""

TaskId = StrictStr | StrictInt
"""Task ids are strings (`"HumanEval/12"`, `"puzzle-0412"`) or integers (MBPP's `601`)."""

JsonObject = dict[str, Any]


class Message(_Record):
    """A chat message, as sent to or received from a chat model."""

    role: Literal["system", "user", "assistant", "tool"]
    """Who speaks: the system prompt, the user/environment, the model, or a tool result."""
    content: str
    """The text of the message."""


class Env(_Record):
    """The environment (plugin) that ran the episode, so results can be traced and reproduced."""

    name: str = Field(min_length=1)
    """Plugin name, e.g. `connections`, `data-analysis`, `search`, `code`."""
    version: str = Field(min_length=1)
    """Version of the env plugin; rules can change between versions."""
    args: JsonObject = Field(default_factory=dict)
    """The arguments the env was built with (max_turns, max_mistakes, ...)."""


class Task(_Record):
    """The task the episode worked on: one puzzle, question or programming problem."""

    id: TaskId
    """Stable id of the task in its dataset; grouping and deduplication key (`/task/id`)."""
    split: str | None = None
    """Dataset split the task comes from (`train`, `validation`, `test`), when known."""
    data: JsonObject = Field(default_factory=dict)
    """The task itself as the env needs it (puzzle groups, question + ground truth, tests...)."""


class ModelSpec(_Record):
    """The model that produced the actions, and the backend that served it."""

    name: str = Field(min_length=1)
    """Model name or path as given to the backend."""
    backend: str = Field(min_length=1)
    """Backend plugin that served it (`vllm`, `openai`, `replay`, ...)."""


class Sampling(_Record):
    """Sampling parameters of the model calls; `None` means the backend's default."""

    n: int | None = Field(default=None, ge=1)
    """Samples drawn per task in the run this episode belongs to."""
    temperature: float | None = Field(default=None, ge=0)
    """Softmax temperature; 0 is greedy."""
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling mass."""
    top_k: int | None = None
    """Top-k cut-off (-1 or absent: none)."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Cap on generated tokens per model call."""
    stop: list[str] = Field(default_factory=list)
    """Stop strings."""
    seed: int | None = None
    """Seed passed to the backend's sampler (see also the episode's own `seed`)."""
    extra: JsonObject = Field(default_factory=dict)
    """Backend-specific parameters (min_p, repetition_penalty, ...)."""


class Usage(_Record):
    """Token counts, as reported by the backend (or counted by the harness)."""

    prompt_tokens: int | None = Field(default=None, ge=0)
    """Tokens read (the prompt of the call, or the sum over calls)."""
    completion_tokens: int | None = Field(default=None, ge=0)
    """Tokens generated."""


class Tokens(_Record):
    """Token ids and log-probabilities of one model call, kept only when the backend gives them."""

    prompt_ids: list[int] | None = None
    """Token ids of the full prompt of the call (optional: large)."""
    completion_ids: list[int] | None = None
    """Token ids of the generated action."""
    completion_logprobs: list[float] | None = None
    """Log-probability of each generated token; same length as `completion_ids`."""

    @model_validator(mode="after")
    def _same_length(self) -> Tokens:
        ids, logprobs = self.completion_ids, self.completion_logprobs
        if ids is not None and logprobs is not None and len(ids) != len(logprobs):
            raise ValueError(
                f"completion_logprobs has {len(logprobs)} items but completion_ids has {len(ids)}"
            )
        return self


class StepStatus(_Record):
    """Whether the env could act on the model's action, and what the env made of it."""

    valid: bool = True
    """False when the action broke the env's rules (no parsable guess, unknown word, ...)."""
    reason: str | None = None
    """Why the action is invalid (or any note on a valid one), e.g. `over_token_limit_1024`."""
    label: str | None = None
    """Env-specific result label: `correct`, `one_away`, `invalid`, `search`, `submitted`, ..."""


class Step(_Record):
    """One model turn: the model's action and the environment's answer to it."""

    action: str
    """The assistant's text for this turn, exactly as generated."""
    observation: list[Message] = Field(default_factory=list)
    """The messages the env answered with (feedback, tool output); empty after the last turn."""
    status: StepStatus = Field(default_factory=StepStatus)
    """Valid or invalid, with a reason and an env-specific label."""
    reward: float | None = None
    """Reward of this step, for envs that give one per turn."""
    done: bool = False
    """True on the step that ended the episode."""
    usage: Usage | None = None
    """Token counts of the model call that produced `action`."""
    tokens: Tokens | None = None
    """Token ids and logprobs of that call, when the backend returns them."""
    info: JsonObject = Field(default_factory=dict)
    """Env-specific data of the turn: the parsed guess, code + execution + hooks, documents..."""


class Outcome(_Record):
    """How the episode ended."""

    done: bool
    """True when the env finished the episode (by its rules or on an error)."""
    reason: str | None = None
    """Why it ended: `all_categories_found`, `max_mistakes`, `max_turns_reached`, `error`, ..."""
    success: bool | None = None
    """Whether the task was solved; `None` when that is unknown (no verdict, error)."""


class Verdict(_Record):
    """The judgement of one verifier on the episode."""

    verifier: str = Field(min_length=1)
    """Verifier plugin name (`humaneval`, `mbpp`, `triangulation`, `exact_match`, ...)."""
    version: str | None = None
    """Version of the verifier's rules; the verify stage judges an episode again only when it
    has no verdict of this verifier name and version."""
    verdict: Literal["pass", "fail", "no_verdict"]
    """`no_verdict` is an infrastructure failure (sandbox down, timeout of the harness), never a pass."""
    score: float | None = None
    """Score in [0, 1] when the verifier grades (partial credit: 3 of 5 tests = 0.6)."""
    details: JsonObject = Field(default_factory=dict)
    """Verifier-specific evidence: tail of the output, error, tests passed/total, ..."""


class ErrorInfo(_Record):
    """The exception that stopped an episode, so failed episodes are kept and can be inspected."""

    type: str = Field(min_length=1)
    """Exception class name, e.g. `TimeoutError`."""
    message: str
    """The exception's message."""
    traceback: str | None = None
    """Formatted traceback, when available."""


class Parent(_Record):
    """For doctored episodes: the episode this one continues from."""

    episode_id: str = Field(min_length=1)
    """`episode_id` of the parent episode."""
    steps_kept: int = Field(ge=0)
    """How many of the parent's steps were kept (they are replayed into this episode's prompt)."""
    reason: str
    """Why the parent was doctored, e.g. `invalid guess`, `game lost`."""


class Provenance(_Record):
    """Where and with what the record was produced, to reproduce it or find the code at fault."""

    harness_version: str = Field(min_length=1)
    """Version of rollout-harness that wrote the record."""
    plugins: dict[str, str] = Field(default_factory=dict)
    """Plugin name -> version of every plugin involved (env, backend, verifiers)."""
    created_at: IsoTimestamp
    """When the episode was written (ISO 8601 with a time zone)."""
    host: str | None = None
    """Machine that ran it."""
    run_id: str | None = None
    """Id of the run (one invocation of the rollout engine) the episode belongs to."""


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------


class Episode(_Record):
    """One rollout of a model in an environment on one task: the unit every stage reads and writes."""

    model_config = ConfigDict(
        title=f"rollout-harness episode record, schema version {SCHEMA_VERSION}",
    )

    schema_version: Literal["1"]
    """Version of this shape (`SCHEMA_VERSION`); required, so an unversioned record is an error."""
    episode_id: str = Field(min_length=1)
    """Stable, unique id of this episode (see `make_episode_id`)."""
    env: Env
    """The environment that ran it."""
    task: Task
    """The task it worked on."""
    model: ModelSpec
    """The model that acted."""
    sampling: Sampling = Field(default_factory=Sampling)
    """How the model was sampled."""
    seed: int | None = None
    """Seed of this episode's own randomness (env shuffling, task sampling)."""
    sample_index: int = Field(default=0, ge=0)
    """Which of the `sampling.n` samples of this task this is (0-based)."""
    prompt: list[Message]
    """The conversation before the model's first action (for doctored episodes: the parent's
    prompt followed by the kept turns)."""
    steps: list[Step]
    """One entry per model turn, in order. The completion is derived from them (`completion()`)."""
    reward: float | None = None
    """Final reward of the episode; `None` when it was not scored."""
    reward_components: dict[str, float] = Field(default_factory=dict)
    """The named parts the reward is made of (e.g. `correct_groups`, `format`)."""
    outcome: Outcome
    """How it ended."""
    verification: list[Verdict] = Field(default_factory=list)
    """Verdicts of the verifiers that checked it, in the order they ran."""
    usage: Usage = Field(default_factory=Usage)
    """Token totals over all model calls of the episode."""
    error: ErrorInfo | None = None
    """Set when the episode failed with an exception."""
    parent: Parent | None = None
    """Set on doctored episodes."""
    provenance: Provenance
    """Who/what/when produced the record."""
    info: JsonObject = Field(default_factory=dict)
    """Free-form, env-specific data of the episode (e.g. `resumed_from_guess_history`)."""

    # -- derived views -------------------------------------------------------------------

    def completion(self) -> list[Message]:
        """The messages generated during this episode: each step's action, then its observation."""
        out: list[Message] = []
        for step in self.steps:
            out.append(Message(role="assistant", content=step.action))
            out.extend(step.observation)
        return out

    def messages(self) -> list[Message]:
        """The whole conversation: `prompt` followed by `completion()`."""
        return [*self.prompt, *self.completion()]

    def verdict(self, verifier: str) -> Verdict | None:
        """The last verdict of the named verifier, if any."""
        for v in reversed(self.verification):
            if v.verifier == verifier:
                return v
        return None

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON data; `None` fields are left out (free-form dicts are kept as is)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json_line(self) -> str:
        """Compact JSON on one line (no trailing newline), `None` fields left out, non-ASCII kept."""
        return self.model_dump_json(exclude_none=True)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp (`2025-01-31T12:00:00.123Z`)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_episode_id(run_id: str, env: str, task_id: str | int, sample_index: int, *extra: object) -> str:
    """A deterministic id: the same run, env, task and sample always give the same id.

    `extra` parts (e.g. a doctoring round) are mixed in. The id reads `ep-<20 hex digits>`.
    """
    parts = [run_id, env, f"{type(task_id).__name__}:{task_id}", str(sample_index), *map(str, extra)]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"ep-{digest[:20]}"


def episode_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the episode record, generated from the models."""
    schema = Episode.model_json_schema()
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": schema.pop("title"),
        "description": (
            "One rollout of a model in an environment on one task, as written by rollout-harness "
            "(one record per JSONL line). Generated from harness.episode; do not edit by hand."
        ),
    }
    schema.pop("description", None)
    return {**head, **schema}


def write_schema(path: str | os.PathLike[str]) -> None:
    """Write `episode_json_schema()` to `path` (2-space indented, trailing newline)."""
    text = json.dumps(episode_json_schema(), indent=2, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------
# Validation with readable errors
# --------------------------------------------------------------------------------------------


class EpisodeError(LocatedError):
    """A record that is not a valid episode.

    Attributes: `path` and `line` (1-based, `None` when not from a file), `field` (a JSON pointer
    such as `/steps/3/status/valid`; `""` is the whole record), `reason`, and `more_errors` (how
    many other problems the record has). The message reads `path:line: field: reason`.
    """

    def __init__(self, path: str | None, line: int | None, field: str, reason: str, more_errors: int = 0):
        super().__init__(path, line, field, reason)
        self.more_errors = more_errors
        if more_errors:
            self.args = (f"{self.args[0]} (and {more_errors} more error{'s' if more_errors > 1 else ''})",)

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.field, self.reason, self.more_errors))


def _pointer(record: Any, loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into a JSON pointer into `record`.

    pydantic puts union member tags (`str`, `int`, `function-after[...]`) in locations; they are
    dropped by following the actual data: a component that is not a key/index of the current
    value is kept only when it is the last one (the name of a missing field).
    """
    parts: list[str] = []
    cur = record
    for i, comp in enumerate(loc):
        if isinstance(cur, dict) and isinstance(comp, str) and comp in cur:  # noqa: SIM114 - each arm narrows
            cur = cur[comp]
        elif isinstance(cur, list) and isinstance(comp, int) and 0 <= comp < len(cur):
            cur = cur[comp]
        elif i == len(loc) - 1 and isinstance(cur, dict):
            pass  # a missing field: name it
        else:
            continue  # a union tag, not part of the data
        parts.append(escape(str(comp)))
    return "".join("/" + p for p in parts)


def _unwrap(ann: Any) -> Any:
    """Strip `Optional`/`Annotated` from a field annotation."""
    while True:
        origin = typing.get_origin(ann)
        if origin is Annotated:
            ann = typing.get_args(ann)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann
            ann = args[0]
        else:
            return ann


def _model_at(parts: list[str]) -> type[BaseModel] | None:
    """The model class whose object sits at the pointer `parts` of an episode (None: free-form)."""
    cls: Any = Episode
    for part in parts:
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            field = cls.model_fields.get(part)
            if field is None:
                return None
            cls = _unwrap(field.annotation)
        elif typing.get_origin(cls) is list:
            cls = _unwrap(typing.get_args(cls)[0])
        else:
            return None
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _snippet(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(errs: list[dict[str, Any]], pointer: str) -> str:
    """A short reason for the errors pydantic reported at one pointer."""
    first = errs[0]
    kind = first["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        parts = pointer_parts(pointer)
        reason = "unknown field"
        model = _model_at(parts[:-1])
        if model is not None and parts:
            close = difflib.get_close_matches(parts[-1], list(model.model_fields), n=1)
            if close:
                reason += f" (did you mean {close[0]!r}?)"
        return reason
    expected = [_EXPECTED[e["type"]] for e in errs if e["type"] in _EXPECTED]
    if expected and len(expected) == len(errs):
        text = "expected " + " or ".join(dict.fromkeys(expected))
    else:
        msg = first["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        text = msg[:1].lower() + msg[1:]
    if "input" in first and not isinstance(first["input"], (dict, list)):
        text += f", got {_snippet(first['input'])}"
    return text


def validate_episode(record: Any, *, path: str = "<memory>", line: int | None = None) -> Episode:
    """Validate one parsed JSON record and return it as an `Episode`.

    Raises `EpisodeError` naming `path`, `line`, the field (as a JSON pointer) and the reason of
    the first problem, with the count of the others.
    """
    if not isinstance(record, dict):
        raise EpisodeError(path, line, "", f"expected a JSON object, got {type(record).__name__}")
    try:
        return Episode.model_validate(record)
    except ValidationError as exc:
        by_pointer: dict[str, list[dict[str, Any]]] = {}
        for err in exc.errors(include_url=False):
            by_pointer.setdefault(_pointer(record, tuple(err["loc"])), []).append(dict(err))
        pointer, errs = next(iter(by_pointer.items()))
        raise EpisodeError(path, line, pointer, _reason(errs, pointer), len(by_pointer) - 1) from None


# --------------------------------------------------------------------------------------------
# Reading and writing files
# --------------------------------------------------------------------------------------------


class EpisodeLoader:
    """Iterates the episodes of JSONL files (see `load_episodes`).

    After (or during) iteration: `records` (JSON objects read), `invalid` (records that failed
    episode validation), `malformed` (lines that were not JSON objects, from the JSONL reader) and,
    in `collect` mode, `errors`: the `JsonlError`s and `EpisodeError`s, in file and line order
    (the first `max_errors` of each kind).
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        errors: Literal["raise", "skip", "collect"] = "raise",
        max_errors: int = 1000,
    ) -> None:
        if errors not in ("raise", "skip", "collect"):
            raise ValueError(f"errors must be 'raise', 'skip' or 'collect', not {errors!r}")
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [os.fspath(p) for p in paths]
        self.mode = errors
        self.max_errors = max_errors
        self.records = 0
        self.invalid = 0
        self._invalid_errors: list[EpisodeError] = []
        self._reader: Any = None

    @property
    def malformed(self) -> int:
        return int(getattr(self._reader, "malformed", 0) or 0) if self._reader is not None else 0

    @property
    def errors(self) -> list[ValueError]:
        jsonl_errors = list(getattr(self._reader, "errors", None) or []) if self._reader else []
        rank = {p: i for i, p in enumerate(self.paths)}
        merged: list[ValueError] = [*jsonl_errors, *self._invalid_errors]
        merged.sort(key=lambda e: (rank.get(str(getattr(e, "path", "")), len(rank)), getattr(e, "line", 0) or 0))
        return merged

    def __iter__(self) -> Iterator[Episode]:
        from harness.jsonl import read  # lazy: the Rust-backed reader is optional at import time

        self.records, self.invalid, self._invalid_errors = 0, 0, []  # a new pass starts afresh
        self._reader = read(self.paths, errors=self.mode, locations=True)
        for path, line, record in self._reader:
            self.records += 1
            try:
                episode = validate_episode(record, path=str(path), line=line)
            except EpisodeError as err:
                if self.mode == "raise":
                    raise
                self.invalid += 1
                if self.mode == "collect" and len(self._invalid_errors) < self.max_errors:
                    self._invalid_errors.append(err)
                continue
            yield episode
        if self.invalid:
            warnings.warn(
                f"{self.invalid} record(s) failed episode validation and were left out",
                stacklevel=2,
            )


def load_episodes(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    errors: Literal["raise", "skip", "collect"] = "raise",
) -> EpisodeLoader:
    """Episodes of one or more JSONL files, validated, in file and line order.

    Lines are read by `harness.jsonl.read` (Rust). `errors` works as there: `raise` stops at the
    first malformed line (`JsonlError`) or invalid episode (`EpisodeError`); `skip` leaves both
    out, counted on the returned loader (`malformed`, `invalid`); `collect` also keeps them in
    its `errors` list. Iterate the returned `EpisodeLoader` to get `Episode` objects.
    """
    return EpisodeLoader(paths, errors=errors)


def write_episodes(
    path: str | os.PathLike[str], episodes: Iterable[Episode], *, append: bool = False
) -> int:
    """Write episodes as JSONL (one `to_json_line()` per line) and return how many.

    Without `append` the file is written to a temporary file renamed into place, so a crash never
    leaves a half-written file.
    """
    path = os.fspath(path)
    if append:
        n = 0
        with open(path, "a", encoding="utf-8", newline="\n") as f:
            for ep in episodes:
                f.write(ep.to_json_line() + "\n")
                n += 1
        return n
    n = 0
    with atomic_write(path) as f:
        for ep in episodes:
            f.write(ep.to_json_line() + "\n")
            n += 1
    return n
