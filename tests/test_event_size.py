"""The size caps of a single event: small events pass untouched, large ones are cut visibly."""

from __future__ import annotations

import json

from runtime.event_size import MAX_EVENT_BYTES, capped, clip


def test_an_event_under_the_cap_is_left_as_it_is() -> None:
    data = json.dumps({"message": "x" * 1000, "fields": {"k": [1, 2]}})
    assert capped(data) is data


def test_the_cap_counts_bytes_not_characters() -> None:
    # 400,000 four-byte characters: under the cap in characters, over it in UTF-8.
    data = json.dumps({"message": "😀" * 400_000}, ensure_ascii=False)
    assert len(data) < MAX_EVENT_BYTES < len(data.encode())
    cut = capped(data)
    assert len(cut.encode()) <= MAX_EVENT_BYTES
    assert json.loads(cut)["message"].endswith(f"…[truncated {400_000 - 64 * 1024:,} characters]")


def test_many_texts_are_cut_further_until_the_event_fits() -> None:
    data = json.dumps({"fields": {f"k{i}": "y" * 100_000 for i in range(40)}})
    cut = json.loads(capped(data))
    assert len(json.dumps(cut).encode()) <= MAX_EVENT_BYTES
    assert all(value.startswith("y" * 4096 + "…[truncated") for value in cut["fields"].values())


def test_a_long_list_keeps_its_head_and_says_how_many_it_left_out() -> None:
    data = json.dumps({"rows": ["z" * 2000] * 2000})
    rows = json.loads(capped(data))["rows"]
    assert len(rows) == 1001 and rows[-1] == "…[truncated 1,000 items]"


def test_clip_marks_what_it_left_out() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("abcdefgh", 3) == "abc…[truncated 5 characters]"


def test_a_large_object_keeps_its_first_keys_and_says_how_many_it_left_out() -> None:
    data = json.dumps({"fields": {f"key{i}": "v" * 100 for i in range(20_000)}})
    fields = json.loads(capped(data))["fields"]
    assert len(fields) == 1001 and fields["…"] == "[truncated 19,000 keys]"


def test_collections_within_collections_still_fit_and_keep_their_type() -> None:
    grid = [[i * j for j in range(1000)] for i in range(1000)]
    data = json.dumps({"tool": "echo", "args": {"grid": grid}, "result": grid, "stage": "started"})
    cut = json.loads(capped(data))
    assert len(json.dumps(cut).encode()) <= MAX_EVENT_BYTES
    assert cut["tool"] == "echo" and cut["stage"] == "started"
    assert list(cut["args"]) == ["…"] and cut["args"]["…"].startswith("[truncated: ")
    assert isinstance(cut["result"], list) and cut["result"][0].startswith("…[truncated: ")
