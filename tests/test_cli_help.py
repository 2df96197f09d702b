"""The help: `voxsv --help` lists every command with its summary (through the installed console
script), every subcommand has a description and shows its defaults, and README's command table
names the same commands, summaries, options and defaults."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voxsv.cli.main import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `voxsv (\w+)(.*?)` \| (.+) \|$", re.MULTILINE)
OPTION = re.compile(r"(--[\w-]+)(?: ([^\s\[\]]+))?")


def console_script(*args: str) -> subprocess.CompletedProcess:
    """Run the installed `voxsv` console script on this checkout's package."""
    script = Path(sys.executable).parent / "voxsv"
    command = str(script) if script.exists() else shutil.which("voxsv")
    assert command, "the voxsv console script is not installed (pip install -e .)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([command, *args], capture_output=True, text=True, env=env, timeout=120)


def subparser(name: str) -> argparse.ArgumentParser:
    """The full parser of one subcommand."""
    parser = build_parser(name)
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def readme_rows() -> dict[str, tuple[str, str]]:
    """README's command table: command -> (usage after the name, summary)."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Command line") :]
    section = section[: section.index("\n## ", 1)]
    return {m[1]: (m[2], m[3]) for m in ROW.finditer(section)}


def test_top_level_help_lists_every_command_with_its_summary() -> None:
    result = console_script("--help")
    assert result.returncode == 0, result.stderr
    listed = dict(re.findall(r"^    (\w+) +(.+)$", result.stdout, re.MULTILINE))
    assert listed == {name: summary for name, (_, summary) in COMMANDS.items()}


def test_console_script_answers_bad_input_in_one_line() -> None:
    result = console_script("params", "--bins", "0")
    assert result.returncode == 1
    assert result.stderr == (
        "voxsv params: --bins: 0 is too small, it must be at least 3 (Kaldi FBANK's fewest "
        "mel bins)\n"
    )
    assert result.stdout == ""


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_a_description_and_shows_its_defaults(name: str) -> None:
    parser = subparser(name)
    assert parser.description and len(parser.description) > 80
    text = parser.format_help()
    assert parser.description.split()[0] in text
    for action in parser._actions:
        if action.option_strings and action.default not in (None, argparse.SUPPRESS):
            help_text = " ".join(parser._get_formatter()._expand_help(action).split())
            assert f"(default: {action.default})" in help_text, (name, action.dest)


def test_readme_table_matches_the_help() -> None:
    rows = readme_rows()
    assert list(rows) == list(COMMANDS)
    for name, (usage, summary) in rows.items():
        assert summary == COMMANDS[name][1], name
        actions = {s: a for a in subparser(name)._actions for s in a.option_strings}
        for option, value in OPTION.findall(usage):
            assert option in actions, (name, option)
            action = actions[option]
            if action.choices:
                assert set(value.replace("\\|", "|").split("|")) == set(action.choices)
            elif value and re.fullmatch(r"-?[\d.]+", value):  # a default, not a metavar
                default = action.default
                if default is None:  # a value that only applies with another option
                    assert value in action.help, (name, option)
                else:
                    assert action.type(value) == default, (name, option, value, default)
        required = {s for a in subparser(name)._actions if a.required for s in a.option_strings}
        assert required <= set(re.findall(r"--[\w-]+", usage)), name
