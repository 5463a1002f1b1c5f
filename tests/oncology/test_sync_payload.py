"""The payload's fast validation path never disagrees with the DRF serializers it shortcuts."""

from __future__ import annotations

import copy
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from oncology.services.payload import RecordCleaner, _fast_object
from tests.oncology.api.payloads import lung_record

CLEANER = RecordCleaner()
BASE = lung_record(1)
BASE["systemic_therapies"] = [
    {
        "external_id": "st-1",
        "regimen": "osimertinib",
        "category": "targeted",
        "drugs": [{"name": "osimertinib", "dose": 80, "unit": "mg"}],
        "start_date": "2023-04-01",
        "cycles": 3,
    }
]

# Every place a value sits in BASE, as a path of keys and indexes.
PATHS: list[tuple] = []
for key, value in BASE.items():
    PATHS.append((key,))
    if isinstance(value, list) and value and isinstance(value[0], dict):
        for i, item in enumerate(value):
            for name in item:
                PATHS.append((key, i, name))
PATHS.append(("systemic_therapies", 0, "drugs", 0, "dose"))
PATHS.append(("systemic_therapies", 0, "drugs", 0, "name"))

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=40_000),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            " right",
            "2023-02-14",
            "2023-2-14",
            "20230214",
            "2023-02-30",
            "12",
            "1e3",
            "T2a",
            "x" * 101,
            "a\x00b",
            "Zoë",
            "thoracic",
            "dead",
            "G2",
        ]
    ),
    st.lists(st.sampled_from(["thoracic", "a b", "", 3]), max_size=3),
    st.just({"a": 1}),
    st.just([]),
)


def _set(record: dict, path: tuple, value: object) -> None:
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _drop(record: dict, path: tuple) -> None:
    target = record
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


@settings(max_examples=400, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(ODD_VALUES, st.just("<drop>"))),
        min_size=1,
        max_size=3,
    )
)
def test_the_fast_path_accepts_only_what_the_serializer_accepts_identically(changes):
    record = copy.deepcopy(BASE)
    for path, value in changes:
        try:
            if value == "<drop>":
                _drop(record, path)
            else:
                _set(record, path, copy.deepcopy(value))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced the parent

    fast = _fast_object(CLEANER.rules, copy.deepcopy(record))
    if fast is None:
        return
    try:
        slow = CLEANER.serializer.run_validation(copy.deepcopy(record))
    except serializers.ValidationError as exc:  # pragma: no cover - the failure being hunted
        raise AssertionError(f"fast path accepted what DRF rejects: {exc.detail}") from exc
    assert fast == slow


def test_a_clean_record_takes_the_fast_path_with_defaults_filled_in():
    fast = _fast_object(CLEANER.rules, copy.deepcopy(BASE))
    assert fast is not None
    assert fast["diagnoses"][0]["diagnosis_date"] == dt.date(2023, 2, 14)
    assert fast["labs"][0]["value"] == 13.1
    assert fast["surgeries"][0]["intent"] == "curative"
    assert fast["systemic_therapies"][0]["drugs"][0]["dose"] == 80.0
    assert fast == CLEANER.serializer.run_validation(copy.deepcopy(BASE))


def test_an_unknown_key_or_an_odd_value_leaves_the_fast_path():
    for change in ({"nickname": "x"}, {"birth_date": "1958-4-11"}, {"given_name": "Zoë"}):
        assert _fast_object(CLEANER.rules, {**copy.deepcopy(BASE), **change}) is None
