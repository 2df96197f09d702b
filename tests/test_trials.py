"""Trial-list reading: paths as written, labels as int8, and malformed lines named by number."""

from __future__ import annotations

import numpy as np
import pytest

from voxsv import trials as trials_module
from voxsv.trials import (
    TrialsError,
    column_fields,
    digests,
    field_words,
    find_fields,
    read_trials,
    utterance_id,
)


def test_reads_labels_and_paths_as_written(tmp_path):
    path = tmp_path / "trials.txt"
    path.write_text(
        "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav\n"
        "0 id10270/x6uYqmx31kE/00001.wav\tid10300/ize_eiCFEg0/00003.wav\n"
        "\n"
        "1  id10309/abc/00002.wav id10309/def/00001.wav"
    )
    trials = read_trials(path)
    assert trials.labels.dtype == np.int8
    assert trials.labels.tolist() == [1, 0, 1]
    assert trials.enroll == [
        "id10270/x6uYqmx31kE/00001.wav",
        "id10270/x6uYqmx31kE/00001.wav",
        "id10309/abc/00002.wav",
    ]
    assert trials.test[1] == "id10300/ize_eiCFEg0/00003.wav"
    assert len(trials) == 3


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("1 a.wav b.wav\n0 a.wav\n", 2, "expected 3 fields"),
        ("1 a.wav b.wav\n\n0 a.wav b.wav c.wav\n", 3, "found 4"),
        ("1 a.wav b.wav\n2 a.wav b.wav\n", 2, "label must be 0 or 1"),
        ("\n\n1 a.wav b.wav\ntarget a.wav b.wav\n", 4, "'target'"),
    ],
)
def test_malformed_line_is_named(tmp_path, text, line, what):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(TrialsError, match=f"bad.txt:{line}: .*{what}"):
        read_trials(path)


@pytest.mark.parametrize("text", ["", "\n \n"])
def test_empty_list_is_an_error(tmp_path, text):
    path = tmp_path / "empty.txt"
    path.write_text(text)
    with pytest.raises(TrialsError, match="empty.txt: empty"):
        read_trials(path)


def test_utterance_id_strips_audio_suffix():
    assert utterance_id("id10001/1zcIwhmdeo4/00001.wav") == "id10001/1zcIwhmdeo4/00001"
    assert utterance_id("id00012/21Uxsk56VDQ/00001.m4a") == "id00012/21Uxsk56VDQ/00001"
    assert utterance_id("id10001/vid/00001") == "id10001/vid/00001"


def test_a_pair_listed_twice_counts_once_and_order_matters(tmp_path):
    # eer_minDCF.py keys trials by the ordered tuple (utt1, utt2): a repeat overwrites itself
    path = tmp_path / "trials.txt"
    path.write_text("1 a.wav b.wav\n0 a.wav c.wav\n1 a.wav b.wav\n\n0 c.wav a.wav\n0 a.wav c.wav\n")
    trials = read_trials(path)
    assert list(zip(trials.labels.tolist(), trials.enroll, trials.test, strict=True)) == [
        (1, "a.wav", "b.wav"),
        (0, "a.wav", "c.wav"),
        (0, "c.wav", "a.wav"),
    ]


def test_a_pair_listed_with_two_labels_names_both_lines(tmp_path):
    path = tmp_path / "trials.txt"
    path.write_text("1 a.wav b.wav\n\n0 a.wav c.wav\n0 a.wav b.wav\n")
    message = r"trials.txt:1 and line 4: the pair a.wav b.wav .* labels 1 and 0"
    with pytest.raises(TrialsError, match=message):
        read_trials(path)


def test_metrics_use_each_pair_once(tmp_path, capsys):
    from voxsv.cli import main

    trials, scores = tmp_path / "trials.txt", tmp_path / "scores.txt"
    trials.write_text("1 a b\n0 a c\n0 b c\n0 a c\n0 a c\n")
    scores.write_text("a b 0.9\na c 0.95\nb c 0.1\n")
    # distinct pairs: target 0.9, non-targets 0.95 and 0.1 -> EER 50 % over 3 trials; counting
    # the repeated non-target three times would give 75 % over 5
    assert main(["eer", "--trials", str(trials), "--scores", str(scores)]) == 0
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert (printed["eer_pct"], printed["n_trials"]) == ("50.0000", "3")


@pytest.mark.parametrize("collide", [False, True])
def test_coded_utterances_map_back_to_the_paths(tmp_path, monkeypatch, collide):
    from voxsv import trials as trials_module

    if collide:  # a hash collision falls back to a dict: same result
        monkeypatch.setattr(trials_module, "_hash_codes", lambda *spans: None)
    path = tmp_path / "trials.txt"
    utts = [f"id{i % 7:05d}/vid{i}/{i:05d}.wav" for i in range(40)] + ["é/x.wav"]
    rng = np.random.default_rng(0)
    rows = {(utts[a], utts[b]): int(a % 7 == b % 7) for a, b in rng.integers(0, 41, (200, 2))}
    path.write_text("".join(f"{lab} {e} {t}\n" for (e, t), lab in rows.items()))
    trials = read_trials(path)
    names, enroll, test = trials.coded
    assert len(names) == len(set(names)) == len(set(trials.enroll) | set(trials.test))
    assert [names[i] for i in enroll] == trials.enroll
    assert [names[i] for i in test] == trials.test


def test_a_non_ascii_space_is_part_of_a_path(tmp_path):
    # fields are separated by ASCII whitespace only (str.split() would also split at U+00A0)
    path = tmp_path / "trials.txt"
    path.write_text("1 a\u00a0x.wav b.wav\n0 a\u00a0x.wav c.wav\n", encoding="utf-8")
    trials = read_trials(path)
    assert trials.enroll == ["a\u00a0x.wav", "a\u00a0x.wav"] and trials.test == ["b.wav", "c.wav"]
    names, enroll, _ = trials.coded
    assert [names[i] for i in enroll] == trials.enroll
    from voxsv.score_files import read_scores

    scores = tmp_path / "scores.txt"
    scores.write_text("a\u00a0x.wav b.wav 0.5\na\u00a0x.wav c.wav 0.25\n", encoding="utf-8")
    assert read_scores(scores, trials).tolist() == [0.5, 0.25]


def test_field_counts_agree_with_splitting_each_line():
    # every ASCII whitespace byte, a non-ASCII space's bytes, lines with and without a final
    # newline: the vectorised count equals bytes.split() line by line
    rng = np.random.default_rng(0)
    alphabet = np.frombuffer(b"ab \t\n\r\x0b\x0c\xc2\xa0", np.uint8)
    for _ in range(2000):
        raw = rng.choice(alphabet, int(rng.integers(0, 40))).tobytes()
        lines = raw.split(b"\n")
        expected = [len(line.split()) for line in (lines[:-1] if raw.endswith(b"\n") else lines)]
        assert find_fields(raw).counts.tolist() == expected, raw


def test_fields_and_their_bytes_agree_with_splitting_across_chunks(monkeypatch):
    # chunks of 5 bytes: fields and whitespace runs cross chunk boundaries; fields end at the
    # end of the text, with or without a newline, and are shorter and longer than 8 bytes
    monkeypatch.setattr(trials_module, "FIND_CHUNK", 5)
    rng = np.random.default_rng(1)
    alphabet = np.frombuffer(b"abcdefghij \t\n\r\xc2\xa0", np.uint8)
    for _ in range(500):
        raw = rng.choice(alphabet, int(rng.integers(0, 60))).tobytes()
        fields = find_fields(raw)
        expected = raw.split()
        assert [raw[a:b] for a, b in zip(fields.starts, fields.ends, strict=True)] == expected
        lengths, words = field_words(fields, np.arange(len(expected)))
        table = np.stack([*words, np.zeros(len(expected), np.uint64)], axis=1)
        rows = [(row.tobytes(), n) for row, n in zip(table, lengths, strict=True)]
        assert [row[:n] for row, n in rows] == expected
        assert all(not row[n:].strip(b"\0") for row, n in rows)  # zero past each field


def test_digests_tell_fields_and_pairs_apart():
    raw = b"1 abcdefgh abcdefgh\x00\n0 abcdefgh abc\n1 abc abcdefgh\n0 abcdefgh abc\n"
    fields = find_fields(raw)
    enroll = field_words(fields, column_fields(fields, 1))
    test = field_words(fields, column_fields(fields, 2))
    tokens = digests(*test).tolist()
    assert len(set(tokens)) == 3  # "abcdefgh" and "abcdefgh\0" differ by their length
    pairs = digests(*test, seed=digests(*enroll)).tolist()
    assert pairs[1] == pairs[3] and len(set(pairs)) == 3  # (a, b) and (b, a) differ
